package inventory

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// tree builds files under dir: a value of type link is a symbolic link, a
// []byte or string is a file's content, dirs end in "/".
type link string

func writeTree(t *testing.T, dir string, entries map[string]any) {
	t.Helper()
	for name, v := range entries {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			require.NoError(t, os.MkdirAll(p, 0o755))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		switch c := v.(type) {
		case link:
			require.NoError(t, os.Symlink(string(c), p))
		case string:
			require.NoError(t, os.WriteFile(p, []byte(c), 0o644))
		case []byte:
			require.NoError(t, os.WriteFile(p, c, 0o644))
		default:
			t.Fatalf("unknown tree entry %T", v)
		}
	}
}

// good is the entry of a valid file with the given content.
func good(path string, data []byte, defaultAction string, warnings ...string) v1alpha1.ProfileStatus {
	sum := sha256.Sum256(data)
	return v1alpha1.ProfileStatus{Path: path, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Valid: true, DefaultAction: defaultAction, Warnings: warnings,
		SilentActions: silentOf(data)}
}

// silentOf is what TestSilentActions checks the scan carries: the fixtures'
// refusals are silent when they have errno or trap actions and no log flag.
func silentOf(data []byte) []string {
	var p struct {
		DefaultAction string   `json:"defaultAction"`
		Flags         []string `json:"flags"`
		Syscalls      []struct {
			Action string `json:"action"`
		} `json:"syscalls"`
	}
	if json.Unmarshal(data, &p) != nil || slices.Contains(p.Flags, "SECCOMP_FILTER_FLAG_LOG") {
		return nil
	}
	var out []string
	for _, a := range []string{"SCMP_ACT_ERRNO", "SCMP_ACT_TRAP"} {
		if p.DefaultAction == a || slices.ContainsFunc(p.Syscalls, func(sc struct {
			Action string `json:"action"`
		}) bool {
			return sc.Action == a
		}) {
			out = append(out, a)
		}
	}
	return out
}

// bad is the entry of a file that is read but not valid.
func bad(path string, data []byte, reason, defaultAction string) v1alpha1.ProfileStatus {
	e := good(path, data, defaultAction)
	e.Valid, e.Reason, e.SilentActions = false, reason, nil
	return e
}

// unusable is the entry of something that could not be read at all.
func unusable(path, reason string) v1alpha1.ProfileStatus {
	return v1alpha1.ProfileStatus{Path: path, Reason: reason}
}

func TestScan(t *testing.T) {
	valid := fixture(t, "valid.json")
	allow := fixture(t, "allow-by-default.json")
	moby := fixture(t, "moby-only.json")
	invalidJSON := fixture(t, "invalid-json.json")
	unknownAction := fixture(t, "unknown-action.json")
	unknownArch := fixture(t, "unknown-arch.json")
	emptyName := fixture(t, "empty-name.json")
	big := append([]byte(`{"defaultAction": "SCMP_ACT_ERRNO", "x": "`), make([]byte, MaxProfileSize)...)

	cases := []struct {
		name     string
		host     map[string]any // files of the host; the seccomp root is /var/lib/kubelet/seccomp
		hostRoot bool           // scan with --host-root (else the seccomp root as it is)
		runtime  Runtime
		want     []v1alpha1.ProfileStatus
	}{
		{
			name: "every regular file, any name, nested, sorted by path",
			host: map[string]any{
				"var/lib/kubelet/seccomp/profiles/web.json":     valid,
				"var/lib/kubelet/seccomp/profiles/deep/a/b/c":   valid,
				"var/lib/kubelet/seccomp/profiles.json":         valid,
				"var/lib/kubelet/seccomp/README":                "# not a profile",
				"var/lib/kubelet/seccomp/.hidden.json":          valid,
				"var/lib/kubelet/seccomp/empty-dir/":            nil,
				"var/lib/kubelet/seccomp/profiles/allow.json":   allow,
				"var/lib/kubelet/seccomp/profiles/z/last.json":  valid,
				"var/lib/kubelet/seccomp/profiles/a b (1).json": valid,
			},
			want: []v1alpha1.ProfileStatus{
				good(".hidden.json", valid, "SCMP_ACT_ERRNO"),
				bad("README", []byte("# not a profile"), "invalid JSON at line 1, column 1: invalid character '#' looking for beginning of value", ""),
				good("profiles.json", valid, "SCMP_ACT_ERRNO"),
				good("profiles/a b (1).json", valid, "SCMP_ACT_ERRNO"),
				good("profiles/allow.json", allow, "SCMP_ACT_ALLOW"),
				good("profiles/deep/a/b/c", valid, "SCMP_ACT_ERRNO"),
				good("profiles/web.json", valid, "SCMP_ACT_ERRNO"),
				good("profiles/z/last.json", valid, "SCMP_ACT_ERRNO"),
			},
		},
		{
			name: "invalid profiles carry the reason",
			host: map[string]any{
				"var/lib/kubelet/seccomp/invalid-json.json":   invalidJSON,
				"var/lib/kubelet/seccomp/unknown-action.json": unknownAction,
				"var/lib/kubelet/seccomp/unknown-arch.json":   unknownArch,
				"var/lib/kubelet/seccomp/empty-name.json":     emptyName,
			},
			want: []v1alpha1.ProfileStatus{
				bad("empty-name.json", emptyName, "empty syscall name in syscalls[0].names[1] at line 5", "SCMP_ACT_ERRNO"),
				bad("invalid-json.json", invalidJSON, `invalid JSON at line 4, column 24: invalid character '"' after object key:value pair`, ""),
				bad("unknown-action.json", unknownAction, `unknown action "SCMP_ACT_KILLME" in syscalls[1].action at line 5`, "SCMP_ACT_ERRNO"),
				bad("unknown-arch.json", unknownArch, `unknown architecture "SCMP_ARCH_Z80" in architectures[1] at line 5`, "SCMP_ACT_ERRNO"),
			},
		},
		{
			name:    "a moby-only field on a containerd node is a warning",
			host:    map[string]any{"var/lib/kubelet/seccomp/moby.json": moby},
			runtime: RuntimeContainerd,
			want: []v1alpha1.ProfileStatus{good("moby.json", moby, "SCMP_ACT_ERRNO",
				"archMap is ignored by containerd (only moby and CRI-O read it); list the architectures in architectures instead",
				"syscalls[1].includes is ignored by containerd (only moby and CRI-O read it): the rule applies unconditionally",
			)},
		},
		{
			name:    "the same file on a CRI-O node is fine",
			host:    map[string]any{"var/lib/kubelet/seccomp/moby.json": moby},
			runtime: RuntimeCRIO,
			want:    []v1alpha1.ProfileStatus{good("moby.json", moby, "SCMP_ACT_ERRNO")},
		},
		{
			name: "a file over 1 MiB is not read",
			host: map[string]any{"var/lib/kubelet/seccomp/big.json": big, "var/lib/kubelet/seccomp/small.json": valid},
			want: []v1alpha1.ProfileStatus{
				{Path: "big.json", Size: int64(len(big)), Reason: "file is 1048618 bytes, over the 1 MiB limit for a seccomp profile"},
				good("small.json", valid, "SCMP_ACT_ERRNO"),
			},
		},
		{
			name:     "host root: the operator link into another host directory is followed there",
			hostRoot: true,
			host: map[string]any{
				"var/lib/kubelet/seccomp/operator":                 link("/var/lib/security-profiles-operator"),
				"var/lib/security-profiles-operator/shop/web.json": valid,
				"var/lib/security-profiles-operator/allow.json":    allow,
				"var/lib/kubelet/seccomp/profiles/alias.json":      link("../profiles/real.json"),
				"var/lib/kubelet/seccomp/profiles/real.json":       valid,
				"var/lib/kubelet/seccomp/profiles/absolute.json":   link("/var/lib/kubelet/seccomp/profiles/real.json"),
				"var/lib/kubelet/seccomp/profiles/dangling.json":   link("/var/lib/nowhere/p.json"),
				"var/lib/kubelet/seccomp/profiles/escape.json":     link("../../../../../../hostname"),
				"var/lib/kubelet/seccomp/profiles/to-dir":          link("/var/lib/security-profiles-operator/shop"),
				"var/lib/kubelet/seccomp/loop":                     link("."),
				"var/lib/kubelet/seccomp/profiles/self.json":       link("self.json"),
			},
			want: []v1alpha1.ProfileStatus{
				unusable("loop", "symbolic link loop: leads back to a directory that contains it; not followed"),
				good("operator/allow.json", allow, "SCMP_ACT_ALLOW"),
				good("operator/shop/web.json", valid, "SCMP_ACT_ERRNO"),
				good("profiles/absolute.json", valid, "SCMP_ACT_ERRNO"),
				good("profiles/alias.json", valid, "SCMP_ACT_ERRNO"),
				unusable("profiles/dangling.json", `dangling symbolic link: "/var/lib/nowhere/p.json" does not exist`),
				unusable("profiles/escape.json", `dangling symbolic link: "../../../../../../hostname" does not exist`),
				good("profiles/real.json", valid, "SCMP_ACT_ERRNO"),
				unusable("profiles/self.json", `cannot resolve the symbolic link to "self.json": too many levels of symbolic links`),
				good("profiles/to-dir/web.json", valid, "SCMP_ACT_ERRNO"),
			},
		},
		{
			name: "no host root: links inside the root are followed, links leaving it are not",
			host: map[string]any{
				"var/lib/kubelet/seccomp/operator":               link("/var/lib/security-profiles-operator"),
				"var/lib/security-profiles-operator/web.json":    valid,
				"var/lib/kubelet/seccomp/up.json":                link("../outside.json"),
				"var/lib/kubelet/outside.json":                   valid,
				"var/lib/kubelet/seccomp/profiles/real.json":     valid,
				"var/lib/kubelet/seccomp/profiles/alias.json":    link("real.json"),
				"var/lib/kubelet/seccomp/profiles/dangling.json": link("missing.json"),
				"var/lib/kubelet/seccomp/alias-dir":              link("profiles"),
			},
			want: []v1alpha1.ProfileStatus{
				good("alias-dir/alias.json", valid, "SCMP_ACT_ERRNO"),
				unusable("alias-dir/dangling.json", `dangling symbolic link: "missing.json" does not exist`),
				good("alias-dir/real.json", valid, "SCMP_ACT_ERRNO"),
				unusable("operator", `symbolic link to "/var/lib/security-profiles-operator" leads outside the seccomp root; the agent follows such links only with --host-root`),
				good("profiles/alias.json", valid, "SCMP_ACT_ERRNO"),
				unusable("profiles/dangling.json", `dangling symbolic link: "missing.json" does not exist`),
				good("profiles/real.json", valid, "SCMP_ACT_ERRNO"),
				unusable("up.json", `symbolic link to "../outside.json" leads outside the seccomp root; the agent follows such links only with --host-root`),
			},
		},
		{
			name: "a named pipe is not read (it would block)",
			host: map[string]any{"var/lib/kubelet/seccomp/ok.json": valid},
			want: []v1alpha1.ProfileStatus{
				unusable("fifo", "not a regular file (a named pipe)"),
				good("ok.json", valid, "SCMP_ACT_ERRNO"),
				unusable("via-link", `symbolic link to "fifo": not a regular file (a named pipe)`),
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			host := t.TempDir()
			writeTree(t, host, tc.host)
			if strings.Contains(tc.name, "named pipe") {
				root := filepath.Join(host, "var/lib/kubelet/seccomp")
				require.NoError(t, syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644))
				require.NoError(t, os.Symlink("fifo", filepath.Join(root, "via-link")))
			}
			// Next to the host root, a file that links must never reach.
			require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(host), "hostname"), []byte("outside"), 0o644))
			rt := tc.runtime
			if rt == "" {
				rt = RuntimeContainerd
			}
			s := Scanner{Root: filepath.Join(host, "var/lib/kubelet/seccomp"), Runtime: rt}
			if tc.hostRoot {
				s = Scanner{Root: "/var/lib/kubelet/seccomp", HostRoot: host, Runtime: rt}
			}
			got, err := s.Scan()
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.Profiles)
			assert.False(t, got.RootMissing)

			again, err := s.Scan()
			require.NoError(t, err)
			assert.Equal(t, got, again, "a scan of an unchanged tree is the same")
		})
	}
}

func TestScanDirs(t *testing.T) {
	host := t.TempDir()
	writeTree(t, host, map[string]any{
		"var/lib/kubelet/seccomp/operator":           link("/var/lib/spo"),
		"var/lib/spo/a/p.json":                       "{}",
		"var/lib/kubelet/seccomp/profiles/x/y.json":  "{}",
		"var/lib/kubelet/seccomp/profiles/empty/":    nil,
		"var/lib/kubelet/seccomp/profiles/link.json": link("x/y.json"),
	})
	got, err := Scanner{Root: "/var/lib/kubelet/seccomp", HostRoot: host, Runtime: RuntimeContainerd}.Scan()
	require.NoError(t, err)
	realHost, err := filepath.EvalSymlinks(host)
	require.NoError(t, err)
	j := func(p string) string { return filepath.Join(realHost, p) }
	assert.Equal(t, []string{
		j("var/lib/kubelet/seccomp"), j("var/lib/kubelet/seccomp/profiles"), j("var/lib/kubelet/seccomp/profiles/empty"),
		j("var/lib/kubelet/seccomp/profiles/x"), j("var/lib/spo"), j("var/lib/spo/a"),
	}, got.Dirs, "every directory read, links resolved: the ones to watch")
}

func TestScanRoot(t *testing.T) {
	t.Run("a missing root is an empty inventory, and its nearest ancestor is watched", func(t *testing.T) {
		host := t.TempDir()
		writeTree(t, host, map[string]any{"var/lib/": nil})
		got, err := Scanner{Root: "/var/lib/kubelet/seccomp", HostRoot: host, Runtime: RuntimeContainerd}.Scan()
		require.NoError(t, err)
		realHost, _ := filepath.EvalSymlinks(host)
		assert.Equal(t, ScanResult{RootMissing: true, Dirs: []string{filepath.Join(realHost, "var/lib")}}, got)

		got, err = Scanner{Root: filepath.Join(host, "var/lib/kubelet/seccomp"), Runtime: RuntimeContainerd}.Scan()
		require.NoError(t, err)
		assert.Equal(t, ScanResult{RootMissing: true, Dirs: []string{filepath.Join(host, "var/lib")}}, got)
	})
	t.Run("a root that is a file is an error", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]any{"seccomp": "{}"})
		_, err := Scanner{Root: filepath.Join(dir, "seccomp"), Runtime: RuntimeContainerd}.Scan()
		assert.EqualError(t, err, "the seccomp root "+filepath.Join(dir, "seccomp")+" is not a directory")
	})
	t.Run("a root that is a link is followed", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]any{"data/seccomp/p.json": "{}", "kubelet/seccomp": link("../data/seccomp")})
		got, err := Scanner{Root: filepath.Join(dir, "kubelet/seccomp"), Runtime: RuntimeContainerd}.Scan()
		require.NoError(t, err)
		assert.Equal(t, []v1alpha1.ProfileStatus{bad("p.json", []byte("{}"), "missing defaultAction", "")}, got.Profiles)
	})
	t.Run("with a host root, the seccomp root must be absolute", func(t *testing.T) {
		_, err := Scanner{Root: "var/lib/kubelet/seccomp", HostRoot: t.TempDir()}.Scan()
		assert.EqualError(t, err, `the seccomp root "var/lib/kubelet/seccomp" must be an absolute path on the host when --host-root is set`)
	})
}

// TestScanUnreadable makes a file and a directory unreadable with chmod 000.
// root reads them anyway (CAP_DAC_OVERRIDE), so as root the scan runs in a
// child process as the unprivileged user nobody.
func TestScanUnreadable(t *testing.T) {
	if os.Getenv("SCAN_AS_NOBODY_ROOT") != "" {
		return // the child's own run of this test; see TestScanHelperProcess
	}
	dir, err := os.MkdirTemp("", "scan-unreadable-")
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = filepath.WalkDir(dir, func(p string, _ os.DirEntry, _ error) error { _ = os.Chmod(p, 0o755); return nil })
		_ = os.RemoveAll(dir)
	})
	require.NoError(t, os.Chmod(dir, 0o755))
	valid := fixture(t, "valid.json")
	writeTree(t, dir, map[string]any{
		"seccomp/a.json":        valid,
		"seccomp/secret.json":   valid,
		"seccomp/closed/x.json": valid,
		"seccomp/z.json":        valid,
	})
	require.NoError(t, os.Chmod(filepath.Join(dir, "seccomp/secret.json"), 0))
	require.NoError(t, os.Chmod(filepath.Join(dir, "seccomp/closed"), 0))
	root := filepath.Join(dir, "seccomp")

	var got ScanResult
	if os.Geteuid() != 0 {
		got, err = Scanner{Root: root, Runtime: RuntimeContainerd}.Scan()
		require.NoError(t, err)
	} else {
		got = scanAsNobody(t, dir, root)
	}
	assert.Equal(t, []v1alpha1.ProfileStatus{
		good("a.json", valid, "SCMP_ACT_ERRNO"),
		unusable("closed", "cannot read the directory: permission denied"),
		unusable("secret.json", "cannot read the file: permission denied"),
		good("z.json", valid, "SCMP_ACT_ERRNO"),
	}, got.Profiles)
}

// scanAsNobody re-runs the test binary as uid/gid 65534 to scan root.
func scanAsNobody(t *testing.T, dir, root string) ScanResult {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	// The test binary's own directory is private to root: copy it out.
	bin := filepath.Join(dir, "inventory.test")
	b, err := os.ReadFile(self)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, b, 0o755))
	cmd := exec.Command(bin, "-test.run=^TestScanHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SCAN_AS_NOBODY_ROOT="+root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Skipf("cannot run the scan as an unprivileged user to test unreadable files (%v %s); root reads every file, so this case cannot be tested here", err, stderr)
	}
	line := out
	if i := strings.Index(string(out), "SCAN_RESULT "); i >= 0 {
		line = out[i+len("SCAN_RESULT "):]
		if j := strings.IndexByte(string(line), '\n'); j >= 0 {
			line = line[:j]
		}
	}
	var res ScanResult
	require.NoError(t, json.Unmarshal(line, &res), "child output: %s", out)
	return res
}

// TestScanHelperProcess is the child of scanAsNobody.
func TestScanHelperProcess(t *testing.T) {
	root := os.Getenv("SCAN_AS_NOBODY_ROOT")
	if root == "" {
		t.Skip("helper process for TestScanUnreadable")
	}
	require.NotEqual(t, 0, os.Geteuid(), "the helper must not run as root")
	res, err := Scanner{Root: root, Runtime: RuntimeContainerd}.Scan()
	require.NoError(t, err)
	b, err := json.Marshal(res)
	require.NoError(t, err)
	os.Stdout.WriteString("SCAN_RESULT " + string(b) + "\n")
}

// TestScanMountedDirs gives the agent what the chart mounts and nothing
// else: a host root that holds only the seccomp root and the link targets
// (the Security Profiles Operator's directory), with the empty directories a
// container runtime creates as mount points above them. The operator's
// operator/<namespace>/<name>.json layout still resolves; a link into a
// directory that is not mounted gets its own reason, not "dangling".
func TestScanMountedDirs(t *testing.T) {
	valid := fixture(t, "valid.json")
	allow := fixture(t, "allow-by-default.json")
	host := t.TempDir()
	writeTree(t, host, map[string]any{
		// The Security Profiles Operator's layout: <root>/operator links to
		// its directory, where it writes <namespace>/<name>.json.
		"var/lib/kubelet/seccomp/operator":                        link("/var/lib/security-profiles-operator"),
		"var/lib/security-profiles-operator/shop/web.json":        valid,
		"var/lib/security-profiles-operator/kube-system/log.json": allow,
		// A profile of its own, and links that stay in what is mounted.
		"var/lib/kubelet/seccomp/profiles/real.json":     valid,
		"var/lib/kubelet/seccomp/profiles/absolute.json": link("/var/lib/kubelet/seccomp/profiles/real.json"),
		"var/lib/kubelet/seccomp/profiles/spo-web.json":  link("/var/lib/security-profiles-operator/shop/web.json"),
		"var/lib/kubelet/seccomp/profiles/dangling.json": link("/var/lib/security-profiles-operator/shop/gone.json"),
		// Links into directories that are not mounted: they may well exist
		// on the host, the agent cannot tell.
		"var/lib/kubelet/seccomp/custom/app.json": link("/opt/profiles/app.json"),
		"var/lib/kubelet/seccomp/custom/up.json":  link("../../../../../etc/seccomp/up.json"),
		"var/lib/kubelet/seccomp/custom/parent":   link("/var/lib"), // a mount point's parent exists, empty
	})
	s := Scanner{
		Root: "/var/lib/kubelet/seccomp", HostRoot: host, Runtime: RuntimeContainerd,
		MountedDirs: []string{"/var/lib/security-profiles-operator"},
	}
	got, err := s.Scan()
	require.NoError(t, err)
	notMounted := func(target, dest string) string {
		return `symbolic link to "` + target + `" leads to ` + dest + `, outside the host directories mounted into the agent; add its directory to agent.linkTargets in the chart's values (the agent's --mounted-dirs)`
	}
	assert.Equal(t, []v1alpha1.ProfileStatus{
		unusable("custom/app.json", notMounted("/opt/profiles/app.json", "/opt/profiles/app.json")),
		unusable("custom/parent", notMounted("/var/lib", "/var/lib")),
		unusable("custom/up.json", notMounted("../../../../../etc/seccomp/up.json", "/etc/seccomp/up.json")),
		good("operator/kube-system/log.json", allow, "SCMP_ACT_ALLOW"),
		good("operator/shop/web.json", valid, "SCMP_ACT_ERRNO"),
		good("profiles/absolute.json", valid, "SCMP_ACT_ERRNO"),
		unusable("profiles/dangling.json", `dangling symbolic link: "/var/lib/security-profiles-operator/shop/gone.json" does not exist`),
		good("profiles/real.json", valid, "SCMP_ACT_ERRNO"),
		good("profiles/spo-web.json", valid, "SCMP_ACT_ERRNO"),
	}, got.Profiles)

	// Without MountedDirs the whole host is taken to be mounted: the same
	// links are dangling (or, for /var/lib, followed).
	s.MountedDirs = nil
	got, err = s.Scan()
	require.NoError(t, err)
	byPath := map[string]string{}
	for _, p := range got.Profiles {
		byPath[p.Path] = p.Reason
	}
	assert.Equal(t, `dangling symbolic link: "/opt/profiles/app.json" does not exist`, byPath["custom/app.json"])
}
