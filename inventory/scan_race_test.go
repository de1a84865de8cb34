package inventory

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// TestScanNeverReadsOutsideTheRoot: a symbolic link that escapes the root
// (absolute, or with ..) never makes the agent read a file outside it, not
// even when the tree changes while the agent walks it. An attacker swaps a
// directory of the seccomp root with a link to a directory outside the
// root (renameat2 RENAME_EXCHANGE, atomically, over and over) during the
// scans: a scan that resolves a path and then opens it would, now and then,
// open the file through the swapped-in link.
func TestScanNeverReadsOutsideTheRoot(t *testing.T) {
	valid := fixture(t, "valid.json")
	secret := append(append([]byte(nil), valid...), ' ') // valid, with its own digest
	secretSum := sha256.Sum256(secret)
	secretDigest := hex.EncodeToString(secretSum[:])

	for _, tc := range []struct {
		name     string
		hostRoot bool
		// link is where the swapped-in link points; %s is the directory
		// outside the root, as the agent sees it.
		link func(outside string) string
	}{
		{name: "host root, absolute link", hostRoot: true, link: func(outside string) string { return outside }},
		{name: "host root, relative link", hostRoot: true, link: func(string) string { return "../../../../../../../../outside" }},
		{name: "no host root, absolute link", link: func(outside string) string { return outside }},
		{name: "no host root, relative link", link: func(string) string { return "../../../../outside" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			host := filepath.Join(base, "host")
			outside := filepath.Join(base, "outside")
			writeTree(t, base, map[string]any{
				"host/var/lib/kubelet/seccomp/d/p.json": valid,
				"outside/p.json":                        secret,
			})
			root := filepath.Join(host, "var/lib/kubelet/seccomp")
			require.NoError(t, os.Symlink(tc.link(outside), filepath.Join(root, "swap")))

			s := Scanner{Root: root, Runtime: RuntimeContainerd}
			if tc.hostRoot {
				s = Scanner{Root: "/var/lib/kubelet/seccomp", HostRoot: host, Runtime: RuntimeContainerd}
			}

			// The escaping link itself is never followed out of the root.
			res, err := s.Scan()
			require.NoError(t, err)
			assertNoSecret(t, res.Profiles, secretDigest)

			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, swap := filepath.Join(root, "d"), filepath.Join(root, "swap")
				for {
					select {
					case <-stop:
						return
					default:
					}
					_ = unix.Renameat2(unix.AT_FDCWD, d, unix.AT_FDCWD, swap, unix.RENAME_EXCHANGE)
				}
			}()
			for range 500 {
				res, err := s.Scan()
				if err != nil {
					continue // the root itself is never swapped, but be lenient
				}
				if !assertNoSecret(t, res.Profiles, secretDigest) {
					break
				}
			}
			close(stop)
			wg.Wait()
		})
	}
}

func assertNoSecret(t *testing.T, profiles []v1alpha1.ProfileStatus, digest string) bool {
	t.Helper()
	for _, p := range profiles {
		if p.SHA256 == digest {
			return assert.Fail(t, "the scan read a file outside the root", "entry %+v", p)
		}
	}
	return true
}
