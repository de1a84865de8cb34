package localcluster

import (
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

// component is one of the cluster's processes, its output in LogDir.
type component = framework.Process

// startProcess starts a component with its log in LogDir (see
// framework.StartProcess: own process group, killed with the test process).
func (c *Cluster) startProcess(name, bin string, args ...string) (*component, error) {
	return framework.StartProcess(c.LogDir, name, bin, args...)
}

// exitStatus describes how a process ended.
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
