package inventory

// Bounds: what one node's inventory may hold, so that the
// NodeSeccompInventory stays well under the size etcd accepts for one
// object (1.5 MiB by default, --max-request-bytes), whatever the files in
// the seccomp root are called and hold.
//
// Each entry is bounded: its reason, defaultAction and warnings are cut to a
// length (counted as JSON writes them, escapes included), with at most
// MaxWarnings warnings and a count of the rest; a file whose path is longer
// than MaxPathLength is left out (a path cannot be cut: it is the key pods
// name). The list is bounded: entries are kept in path order up to
// MaxProfiles, and while their stored size, server-side apply's managed
// fields included (each path appears there once more), stays within
// MaxProfileBytes. What is left out is counted in the status's Truncated
// condition; admission then treats a profile the inventory does not list as
// unknown on that node, not missing.

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// Limits of one inventory. bound_test.go measures the object they allow.
const (
	// MaxProfiles is how many files one inventory lists.
	MaxProfiles = 2000
	// MaxProfileBytes bounds the listed entries' stored size: their JSON
	// plus their share of the managed fields.
	MaxProfileBytes = 1 << 20
	// MaxPathLength is the longest path listed, in bytes as JSON writes it.
	MaxPathLength = 512
	// MaxReasonLength is the longest reason, in bytes as JSON writes it.
	MaxReasonLength = 512
	// MaxWarnings is how many warnings an entry lists; one more counts the rest.
	MaxWarnings = 5
	// MaxWarningLength is the longest warning, in bytes as JSON writes it.
	MaxWarningLength = 256
	// MaxDefaultActionLength is the longest defaultAction recorded (the
	// longest known one, SCMP_ACT_KILL_PROCESS, has 21 bytes).
	MaxDefaultActionLength = 64
)

// managedFieldsPerEntry is what an entry costs in the managed fields besides
// its path: `:{".":{},"f:defaultAction":{},"f:path":{},...},`.
const managedFieldsPerEntry = 128

// bounded is an inventory's profile list within the limits.
type bounded struct {
	profiles []v1alpha1.ProfileStatus
	// Files left out, by cause.
	overCount, overBytes, longPath int
}

func (b bounded) omitted() int { return b.overCount + b.overBytes + b.longPath }

// boundProfiles applies the limits to a scan's entries, sorted by path.
func boundProfiles(all []v1alpha1.ProfileStatus) bounded {
	var b bounded
	size := 0
	for _, p := range all {
		if jsonLen(p.Path) > MaxPathLength {
			b.longPath++
			continue
		}
		if len(b.profiles) == MaxProfiles {
			b.overCount++
			continue
		}
		p = boundEntry(p)
		cost := entryCost(p)
		if size+cost > MaxProfileBytes {
			b.overBytes++
			continue
		}
		size += cost
		b.profiles = append(b.profiles, p)
	}
	return b
}

// boundEntry cuts an entry's free text to the limits.
func boundEntry(p v1alpha1.ProfileStatus) v1alpha1.ProfileStatus {
	p.Reason = cut(p.Reason, MaxReasonLength)
	p.DefaultAction = cut(p.DefaultAction, MaxDefaultActionLength)
	if len(p.Warnings) == 0 {
		return p
	}
	n := min(len(p.Warnings), MaxWarnings)
	ws := make([]string, 0, n+1)
	for _, w := range p.Warnings[:n] {
		ws = append(ws, cut(w, MaxWarningLength))
	}
	switch more := len(p.Warnings) - n; {
	case more == 1:
		ws = append(ws, "and 1 more warning")
	case more > 1:
		ws = append(ws, fmt.Sprintf("and %d more warnings", more))
	}
	p.Warnings = ws
	return p
}

// entryCost is what an entry adds to the stored object: its JSON, and its
// key and fields in the managed fields, where its path is written as JSON
// inside a JSON string (`"k:{\"path\":\"...\"}"`).
func entryCost(p v1alpha1.ProfileStatus) int {
	entry, _ := json.Marshal(p)
	path, _ := json.Marshal(p.Path)
	return len(entry) + jsonLen(`k:{"path":`+string(path)+`}`) + managedFieldsPerEntry
}

// truncatedCondition is the status's Truncated condition for b.
func truncatedCondition(b bounded, found int) metav1.Condition {
	c := metav1.Condition{Type: v1alpha1.InventoryTruncated}
	if b.omitted() == 0 {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, v1alpha1.ReasonAllProfilesListed, "every file under the seccomp root is listed"
		return c
	}
	c.Status = metav1.ConditionTrue
	var causes []string
	if b.overCount > 0 {
		c.Reason = v1alpha1.ReasonProfileCountCapped
		causes = append(causes, fmt.Sprintf("%d over the limit of %d profiles", b.overCount, MaxProfiles))
	}
	if b.overBytes > 0 {
		if c.Reason == "" {
			c.Reason = v1alpha1.ReasonProfileSizeCapped
		}
		causes = append(causes, fmt.Sprintf("%d over the limit of %d KiB of entries", b.overBytes, MaxProfileBytes>>10))
	}
	if b.longPath > 0 {
		if c.Reason == "" {
			c.Reason = v1alpha1.ReasonProfilePathTooLong
		}
		causes = append(causes, fmt.Sprintf("%d with a path over %d bytes", b.longPath, MaxPathLength))
	}
	c.Message = fmt.Sprintf("%d of %d files under the seccomp root are left out of the inventory (%s), in path order; "+
		"admission treats a profile the inventory does not list as unknown on this node; remove files that no pod uses",
		b.omitted(), found, strings.Join(causes, ", "))
	return c
}

// cut shortens s to at most maxLen bytes as JSON writes it, ending in "…".
func cut(s string, maxLen int) string {
	if jsonLen(s) <= maxLen {
		return s
	}
	const ellipsis = "…" // 3 bytes, not escaped
	n := 2 + len(ellipsis)
	for i, r := range s {
		w := runeJSONLen(s[i:], r)
		if n+w > maxLen {
			return s[:i] + ellipsis
		}
		n += w
	}
	return s
}

// jsonLen is the length of s as encoding/json writes it, quotes included.
func jsonLen(s string) int {
	n := 2
	for i, r := range s {
		n += runeJSONLen(s[i:], r)
	}
	return n
}

// runeJSONLen is how many bytes encoding/json writes for the rune r that
// starts rest.
func runeJSONLen(rest string, r rune) int {
	switch {
	case r == utf8.RuneError:
		if _, size := utf8.DecodeRuneInString(rest); size == 1 {
			return 6 // \ufffd
		}
		return 3
	case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029':
		return 6
	}
	return utf8.RuneLen(r)
}
