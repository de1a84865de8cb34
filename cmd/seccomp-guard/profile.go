package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/internal/recording"
	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
)

// profileClient connects `profile` to the cluster; tests replace it with a
// fake.
var profileClient = func(kubeconfig string) (client.Client, error) {
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: scheme.Scheme})
}

func newProfileCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "Write least-privilege seccomp profiles from recordings",
		Long: `profile turns what the agents recorded of a workload running under the
logging profile (docs/recording.md) into a least-privilege Localhost profile.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newProfileRecordCommand(), newProfileRecordingsCommand())
	return cmd
}

func newProfileRecordCommand() *cobra.Command {
	var (
		kubeconfig     string
		sel            recording.Selector
		opts           recording.Options
		output         string
		configMap      string
		configMapKey   string
		seccompProfile string
	)
	cmd := &cobra.Command{
		Use:   "record",
		Short: "Write the least-privilege profile of a recorded workload to a file, a ConfigMap or an SPO SeccompProfile",
		Long: `record reads every node's NodeSeccompInventory, merges what the agents
recorded of the workload's containers (every run and replica, on every
node), and writes a least-privilege profile per container:

  defaultAction SCMP_ACT_ERRNO with defaultErrnoRet 1 (EPERM),
  the recorded architectures,
  flags [SECCOMP_FILTER_FLAG_LOG], so that refusals leave an audit record
    the violation monitor reports (--no-log-flag for runc older than 1.2,
    which refuses flagged profiles),
  one SCMP_ACT_ALLOW rule: the recorded syscalls plus what runc needs to
    start a container after it loads the filter.

The profile passes the agent's validation for containerd and CRI-O.
Syscall numbers without a name cannot be allowed; a note says how many.

It writes to a file or a directory (--output, "-" for stdout, the default
when nothing else is asked), to a ConfigMap (--configmap, key
<container>.json; other keys are kept), and to a Security Profiles Operator
SeccompProfile (--seccomp-profile), which the operator installs on every
node. It needs get and list on NodeSeccompInventories, and create, get
and update on what it writes.`,
		Example: `  # The profile of the one recorded container of Deployment web, on stdout.
  seccomp-guard profile record -n shop --workload Deployment/web

  # Every recorded container, one <container>.json each, into a directory.
  seccomp-guard profile record -n shop --workload Deployment/web -o profiles/

  # Into a ConfigMap and an SPO SeccompProfile.
  seccomp-guard profile record -n shop --workload Deployment/web --container app \
    --configmap web-seccomp --seccomp-profile web-app`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := sel.Validate(); err != nil {
				return usageError{err: err}
			}
			cmNamespace, cmName, err := splitConfigMap(configMap, sel.Namespace)
			if err != nil {
				return err
			}
			if configMapKey != "" && configMap == "" {
				return newUsageError("--configmap-key %q needs --configmap: give the ConfigMap to write the key to", configMapKey)
			}
			if output == "" && configMap == "" && seccompProfile == "" {
				output = "-"
			}
			c, err := profileClient(kubeconfig)
			if err != nil {
				return err
			}
			if seccompProfile != "" {
				// Before anything is written.
				if err := recording.CheckSeccompProfileKind(c); err != nil {
					return err
				}
			}
			invs, err := recording.ListInventories(cmd.Context(), c)
			if err != nil {
				return err
			}
			profiles, err := recording.BuildAll(invs, sel, opts)
			if err != nil {
				return err
			}
			if output != "" {
				if err := recording.CheckFileOutput(profiles, output); err != nil {
					return err
				}
			}
			// Messages go to stderr when stdout holds the profile.
			msg := cmd.OutOrStdout()
			if output == "-" {
				msg = cmd.ErrOrStderr()
			}
			for _, p := range profiles {
				fmt.Fprintln(msg, "recorded "+p.Summary())
				for _, n := range p.Notes {
					fmt.Fprintln(cmd.ErrOrStderr(), "note: "+n)
				}
			}
			if output != "" {
				wrote, err := recording.WriteFiles(profiles, output, cmd.OutOrStdout())
				if err != nil {
					return err
				}
				if output != "-" {
					fmt.Fprintf(msg, "wrote %s: copy %s under the kubelet's seccomp root on every node (each node's agent then lists %s in its NodeSeccompInventory), and set seccompProfile {type: Localhost, localhostProfile: <the path under that root>}\n",
						strings.Join(wrote, ", "), pick(len(wrote), "it", "them"), pick(len(wrote), "it", "them"))
				}
			}
			if configMap != "" {
				keys, err := recording.WriteConfigMap(cmd.Context(), c, cmNamespace, cmName, configMapKey, profiles)
				if err != nil {
					return err
				}
				fmt.Fprintf(msg, "wrote ConfigMap %s/%s, %s %s\n", cmNamespace, cmName, pick(len(keys), "key", "keys"), strings.Join(keys, ", "))
			}
			if seccompProfile != "" {
				res, err := recording.WriteSeccompProfiles(cmd.Context(), c, sel.Namespace, seccompProfile, profiles)
				if err != nil {
					return err
				}
				for _, r := range res {
					name := r.Name
					if r.Namespace != "" {
						name = r.Namespace + "/" + r.Name
					}
					fmt.Fprintf(msg, "wrote SeccompProfile %s: once the operator has installed it on the nodes, pods use localhostProfile %s\n", name, r.LocalhostProfile)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)")
	f.StringVarP(&sel.Namespace, "namespace", "n", "default", "namespace of the recorded workload")
	f.StringVar(&sel.Workload, "workload", "", "the recorded pods' top-level owner as Kind/name, e.g. Deployment/web or Pod/debug (required; seccomp-guard profile recordings lists them)")
	f.StringVar(&sel.Container, "container", "", "the container whose profile to write (default: every recorded container of the workload)")
	f.StringVarP(&output, "output", "o", "", `write the profile to this file, or one <container>.json per container to this directory (an existing one, or a path ending in "/"); "-" for stdout (default: stdout when neither --configmap nor --seccomp-profile is given)`)
	f.StringVar(&configMap, "configmap", "", "write the profiles to this ConfigMap, [namespace/]name (default namespace: the workload's), key <container>.json; created or updated, other keys are kept")
	f.StringVar(&configMapKey, "configmap-key", "", "the ConfigMap key to write the one profile to (default: <container>.json)")
	f.StringVar(&seccompProfile, "seccomp-profile", "", "write a Security Profiles Operator SeccompProfile of this name (<name>-<container> when several containers are written), in the workload's namespace when the operator's kind is namespaced; created or updated")
	f.BoolVar(&opts.NoLogFlag, "no-log-flag", false, "leave out SECCOMP_FILTER_FLAG_LOG, for nodes whose runc is older than 1.2 (refusals then leave no audit record)")
	return cmd
}

// splitConfigMap reads --configmap as [namespace/]name.
func splitConfigMap(value, defaultNamespace string) (string, string, error) {
	if value == "" {
		return "", "", nil
	}
	ns, name, ok := strings.Cut(value, "/")
	if !ok {
		return defaultNamespace, value, nil
	}
	if ns == "" || name == "" || strings.Contains(name, "/") {
		return "", "", newUsageError("--configmap %q is not [namespace/]name, e.g. web-seccomp or shop/web-seccomp", value)
	}
	return ns, name, nil
}

func newProfileRecordingsCommand() *cobra.Command {
	var (
		kubeconfig string
		namespace  string
		output     string
	)
	cmd := &cobra.Command{
		Use:   "recordings",
		Short: "List what the agents recorded, merged across nodes (read-only)",
		Long: `recordings reads every node's NodeSeccompInventory and lists the recorded
containers, merged across nodes: namespace, workload, container, the nodes
that recorded it, how many syscalls (and records of unnamed syscall
numbers), records and pods, and when the last record was seen. These are
what seccomp-guard profile record takes.`,
		Example: `  seccomp-guard profile recordings
  seccomp-guard profile recordings -n shop -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			write, ok := map[string]func(io.Writer, []recording.Recording) error{
				outputText: recording.WriteRecordingsText, outputJSON: recording.WriteRecordingsJSON,
			}[output]
			if !ok {
				return newUsageError("unknown output format %q for --output: use %s or %s", output, outputText, outputJSON)
			}
			c, err := profileClient(kubeconfig)
			if err != nil {
				return err
			}
			invs, err := recording.ListInventories(cmd.Context(), c)
			if err != nil {
				return err
			}
			var recs []recording.Recording
			for _, r := range recording.Merge(invs) {
				if namespace == "" || r.Namespace == namespace {
					recs = append(recs, r)
				}
			}
			return write(cmd.OutOrStdout(), recs)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)")
	f.StringVarP(&namespace, "namespace", "n", "", "list only this namespace's recordings (default: all namespaces)")
	f.StringVarP(&output, "output", "o", outputText, "output format: text or json")
	return cmd
}
