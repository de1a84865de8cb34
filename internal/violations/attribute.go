package violations

import (
	"errors"
	"time"
)

// Origin says what a record was attributed to.
type Origin string

// The origins of a record.
const (
	OriginPod       Origin = "pod"       // a container of a pod in the index
	OriginContainer Origin = "container" // a container the index does not know
	OriginHost      Origin = "host"      // a process outside any container
	OriginExited    Origin = "exited"    // the process exited before it was looked up
	OriginUnknown   Origin = "unknown"   // /proc could not be read
)

// Attribution is where a record came from.
type Attribution struct {
	Origin      Origin
	ContainerID string       // for pod and container
	Pod         PodContainer // for pod
	Err         error        // for unknown: why /proc could not be read
}

// Attributor attributes records to pods: PID to container ID through
// <ProcRoot>/<pid>/cgroup, container ID to pod through Pods.
type Attributor struct {
	// ProcRoot is the host's /proc (default "/proc").
	ProcRoot string
	// Pods maps container IDs to pods; nil attributes to container IDs only.
	Pods *PodIndex
	// Refresh, when set, is called once when a container ID is not in Pods
	// (a pod that started after the index was filled), before a second
	// lookup.
	Refresh func()
	// Forks, when set, attributes a process that exited before it was
	// looked up to the container it was forked into (forks.go).
	Forks *ForkTracker
}

// Attribute looks up the record's process now. A PID whose process started
// after the record was written (reused) counts as exited.
func (a *Attributor) Attribute(r Record) Attribution {
	root := a.ProcRoot
	if root == "" {
		root = "/proc"
	}
	id, err := ContainerOfPIDAt(root, r.PID, r.Time)
	if errors.Is(err, ErrProcessGone) && a.Forks != nil {
		if forked, ok := a.Forks.ContainerOf(r.PID, time.Now()); ok {
			id, err = forked, nil
		}
	}
	switch {
	case errors.Is(err, ErrProcessGone):
		return Attribution{Origin: OriginExited}
	case errors.Is(err, ErrNotAContainer):
		return Attribution{Origin: OriginHost}
	case err != nil:
		return Attribution{Origin: OriginUnknown, Err: err}
	}
	if a.Pods == nil {
		return Attribution{Origin: OriginContainer, ContainerID: id}
	}
	pc, ok := a.Pods.Lookup(id)
	if !ok && a.Refresh != nil {
		a.Refresh()
		pc, ok = a.Pods.Lookup(id)
	}
	if !ok {
		return Attribution{Origin: OriginContainer, ContainerID: id}
	}
	return Attribution{Origin: OriginPod, ContainerID: id, Pod: pc}
}
