package imagebuild

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Dockerfile and `make image` build the same image: same base contents,
// user, entrypoint, labels and go build line. These tests read the
// Dockerfile as `docker build --build-arg VERSION=... --build-arg
// REVISION=...` would and compare it with this package's constants.

const (
	testVersion = "v9.8.7-3-gabcdef0"
	testCommit  = "abcdef0123456789abcdef0123456789abcdef01"
)

// buildArgs are the --build-arg values the drift checks use.
var buildArgs = map[string]string{"VERSION": testVersion, "REVISION": testCommit}

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct {
	keyword string // upper case
	args    string
}

// stage is one FROM and what follows it.
type stage struct {
	from         string // the image, ARGs expanded
	name         string // AS name
	args         map[string]string
	instructions []instruction
}

// parseDockerfile splits a Dockerfile into its global ARGs and its stages.
func parseDockerfile(text string) (map[string]string, []stage) {
	var insts []instruction
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		kw, rest, _ := strings.Cut(cur.String(), " ")
		insts = append(insts, instruction{keyword: strings.ToUpper(kw), args: strings.TrimSpace(rest)})
		cur.Reset()
	}
	global := map[string]string{}
	var stages []stage
	for _, in := range insts {
		switch {
		case in.keyword == "FROM":
			words := shellWords(in.args)
			var s stage
			s.args = map[string]string{}
			for i := 0; i < len(words); i++ {
				switch {
				case strings.HasPrefix(words[i], "--"):
				case strings.EqualFold(words[i], "AS") && i+1 < len(words):
					s.name = words[i+1]
					i++
				default:
					s.from = expand(words[i], global)
				}
			}
			stages = append(stages, s)
		case in.keyword == "ARG":
			target := global
			if len(stages) > 0 {
				target = stages[len(stages)-1].args
			}
			for _, w := range shellWords(in.args) {
				k, v, _ := strings.Cut(w, "=")
				if arg, ok := buildArgs[k]; ok {
					v = arg
				}
				target[k] = v
			}
		case len(stages) > 0:
			stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, in)
		}
	}
	return global, stages
}

var varRef = regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`)

// expand replaces ${NAME} and $NAME by vars[NAME] where it is set.
func expand(s string, vars map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(ref string) string {
		m := varRef.FindStringSubmatch(ref)
		if v, ok := vars[m[1]+m[2]]; ok {
			return v
		}
		return ref
	})
}

// shellWords splits s as a POSIX shell does, for quotes and backslashes.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			w.WriteRune(r)
			escaped = false
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			if r == '\\' && quote == '"' {
				escaped = true
				continue
			}
			w.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '\\':
			escaped, inWord = true, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// goBuild is a `VAR=value ... go build ...` command line.
type goBuild struct {
	env  []string
	args []string // after "go"
	out  string   // the -o value
}

// parseGoBuild reads the go build command of a shell line: the
// assignments before "go", the arguments after it.
func parseGoBuild(line string) (goBuild, bool) {
	words := shellWords(line)
	for i, w := range words {
		if w != "go" || i+1 >= len(words) || words[i+1] != "build" {
			continue
		}
		b := goBuild{args: words[i+1:]}
		for _, e := range words[:i] {
			if strings.Contains(e, "=") {
				b.env = append(b.env, e)
			}
		}
		for j, a := range b.args {
			if a == "-o" && j+1 < len(b.args) {
				b.out = b.args[j+1]
			}
		}
		return b, true
	}
	return goBuild{}, false
}

// drift returns one message per difference between the Dockerfile and
// `make image`, for the build args VERSION=testVersion, REVISION=testCommit;
// goVersion is go.mod's go directive.
func drift(dockerfile, goVersion string) []string {
	var msgs []string
	differ := func(what, got, want string, why ...string) {
		if got != want {
			if len(why) > 0 {
				want += " (" + strings.Join(why, " ") + ")"
			}
			msgs = append(msgs, fmt.Sprintf("Dockerfile %s is %s; make image (internal/imagebuild) has %s: change one to match the other", what, got, want))
		}
	}
	_, stages := parseDockerfile(dockerfile)
	if len(stages) < 2 {
		return []string{fmt.Sprintf("Dockerfile has %d stages; want a build stage and a final stage", len(stages))}
	}
	final := stages[len(stages)-1]

	// The builder's Go is go.mod's Go (major.minor).
	goMinor := strings.Join(strings.SplitN(goVersion, ".", 3)[:2], ".")
	differ("build stage image", fmt.Sprintf("%q", stages[0].from), fmt.Sprintf("%q", "golang:"+goMinor), "go.mod: go "+goVersion)
	differ("final stage image", fmt.Sprintf("%q", final.from), fmt.Sprintf("%q", "gcr.io/distroless/static:nonroot"), "empty base, its nonroot user, /etc/passwd and /tmp")

	var user, entrypoint string
	labels := map[string]string{}
	var copyLine string
	for _, in := range final.instructions {
		switch in.keyword {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "LABEL":
			for _, w := range shellWords(in.args) {
				k, v, _ := strings.Cut(w, "=")
				labels[k] = expand(v, final.args)
			}
		case "COPY":
			copyLine = in.args
		}
	}
	differ("USER", fmt.Sprintf("%q", user), fmt.Sprintf("%q", User))
	var ep []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil {
		ep = []string{"not a JSON array: " + entrypoint}
	}
	differ("ENTRYPOINT", fmt.Sprintf("%q", ep), fmt.Sprintf("%q", Entrypoint))
	differ("LABELs", fmt.Sprint(labels), fmt.Sprint(Labels(testVersion, testCommit)))

	// The go build line of the build stage, with the build args.
	var build goBuild
	found := false
	for _, in := range stages[0].instructions {
		if in.keyword == "RUN" {
			if build, found = parseGoBuild(expand(in.args, stages[0].args)); found {
				break
			}
		}
	}
	if !found {
		return append(msgs, "Dockerfile build stage has no RUN ... go build line")
	}
	for _, e := range BuildEnv {
		if !contains(build.env, e) {
			differ("go build environment", fmt.Sprintf("%q", build.env), fmt.Sprintf("%q among them", e))
		}
	}
	differ("go build arguments", fmt.Sprintf("%q", build.args), fmt.Sprintf("%q", GoBuildArgs(testVersion, testCommit, build.out)))
	wantCopy := fmt.Sprintf("--from=%s --chown=%d:%d %s %s", stages[0].name, UID, GID, build.out, BinaryPath)
	differ("COPY of the binary", fmt.Sprintf("%q", copyLine), fmt.Sprintf("%q", wantCopy))
	return msgs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// readRepoFile reads a file of the module (this package is two levels
// down).
func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", name))
	require.NoError(t, err)
	return string(data)
}

func goModVersion(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(readRepoFile(t, "go.mod"))
	require.NotNil(t, m, "go.mod has no go directive")
	return m[1]
}

func TestDockerfileMatchesMakeImage(t *testing.T) {
	assert.Empty(t, drift(readRepoFile(t, "Dockerfile"), goModVersion(t)))
}

// Each kind of drift is caught, with a message that names both sides.
func TestDockerfileDriftMessages(t *testing.T) {
	dockerfile := readRepoFile(t, "Dockerfile")
	const suffix = "; make image (internal/imagebuild) has "
	const fix = ": change one to match the other"
	ldflags := func(v, c string) string {
		return "-s -w -X github.com/seccomp-guard/seccomp-guard/internal/version.Version=" + v +
			" -X github.com/seccomp-guard/seccomp-guard/internal/version.Commit=" + c
	}
	buildArgs := func(ld, out string) string {
		return fmt.Sprintf("[\"build\" \"-trimpath\" \"-ldflags\" %q \"-o\" %q \"./cmd/seccomp-guard\"]", ld, out)
	}
	wantBuildArgs := buildArgs(ldflags(testVersion, testCommit), "/out/seccomp-guard")
	cases := []struct {
		name      string
		old, new  string
		goVersion string
		want      string
	}{
		{
			name: "user", old: "USER 65532:65532", new: "USER 0",
			want: `Dockerfile USER is "0"` + suffix + `"65532:65532"` + fix,
		},
		{
			name: "entrypoint", old: `ENTRYPOINT ["/seccomp-guard"]`, new: `ENTRYPOINT ["/seccomp-guard", "webhook"]`,
			want: `Dockerfile ENTRYPOINT is ["/seccomp-guard" "webhook"]` + suffix + `["/seccomp-guard"]` + fix,
		},
		{
			name: "entrypoint in shell form", old: `ENTRYPOINT ["/seccomp-guard"]`, new: `ENTRYPOINT /seccomp-guard`,
			want: `Dockerfile ENTRYPOINT is ["not a JSON array: /seccomp-guard"]` + suffix + `["/seccomp-guard"]` + fix,
		},
		{
			name: "label", old: `org.opencontainers.image.revision="${REVISION}"`, new: `org.opencontainers.image.revision="${VERSION}"`,
			want: "Dockerfile LABELs is map[org.opencontainers.image.revision:" + testVersion +
				" org.opencontainers.image.source:https://github.com/seccomp-guard/seccomp-guard org.opencontainers.image.version:" + testVersion + "]" +
				suffix + "map[org.opencontainers.image.revision:" + testCommit +
				" org.opencontainers.image.source:https://github.com/seccomp-guard/seccomp-guard org.opencontainers.image.version:" + testVersion + "]" + fix,
		},
		{
			name: "source label default", old: "ARG SOURCE=https://github.com/seccomp-guard/seccomp-guard", new: "ARG SOURCE=https://example.com/fork",
			want: "Dockerfile LABELs is map[org.opencontainers.image.revision:" + testCommit +
				" org.opencontainers.image.source:https://example.com/fork org.opencontainers.image.version:" + testVersion + "]" +
				suffix + "map[org.opencontainers.image.revision:" + testCommit +
				" org.opencontainers.image.source:https://github.com/seccomp-guard/seccomp-guard org.opencontainers.image.version:" + testVersion + "]" + fix,
		},
		{
			name: "cgo", old: "RUN CGO_ENABLED=0 ", new: "RUN CGO_ENABLED=1 ",
			want: `Dockerfile go build environment is ["CGO_ENABLED=1" "GOOS=" "GOARCH="]` + suffix + `"CGO_ENABLED=0" among them` + fix,
		},
		{
			name: "trimpath", old: "go build -trimpath", new: "go build",
			want: `Dockerfile go build arguments is ["build" "-ldflags" ` + fmt.Sprintf("%q", ldflags(testVersion, testCommit)) + ` "-o" "/out/seccomp-guard" "./cmd/seccomp-guard"]` +
				suffix + wantBuildArgs + fix,
		},
		{
			name: "ldflags", old: "-s -w -X", new: "-w -X",
			want: "Dockerfile go build arguments is " + buildArgs("-w"+ldflags(testVersion, testCommit)[5:], "/out/seccomp-guard") +
				suffix + wantBuildArgs + fix,
		},
		{
			name: "commit from the wrong build arg", old: "version.Commit=${REVISION}", new: "version.Commit=${VERSION}",
			want: "Dockerfile go build arguments is " + buildArgs(ldflags(testVersion, testVersion), "/out/seccomp-guard") +
				suffix + wantBuildArgs + fix,
		},
		{
			name: "copy owner", old: "--chown=65532:65532", new: "--chown=0:0",
			want: `Dockerfile COPY of the binary is "--from=build --chown=0:0 /out/seccomp-guard /seccomp-guard"` + suffix +
				`"--from=build --chown=65532:65532 /out/seccomp-guard /seccomp-guard"` + fix,
		},
		{
			name: "final base", old: "FROM gcr.io/distroless/static:nonroot", new: "FROM gcr.io/distroless/static:latest",
			want: `Dockerfile final stage image is "gcr.io/distroless/static:latest"` + suffix +
				`"gcr.io/distroless/static:nonroot" (empty base, its nonroot user, /etc/passwd and /tmp)` + fix,
		},
		{
			name: "Go version", goVersion: "1.27.1",
			want: `Dockerfile build stage image is "golang:1.26"` + suffix + `"golang:1.27" (go.mod: go 1.27.1)` + fix,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			edited := dockerfile
			if tc.old != "" {
				require.Contains(t, dockerfile, tc.old)
				edited = strings.Replace(dockerfile, tc.old, tc.new, 1)
			}
			goVersion := tc.goVersion
			if goVersion == "" {
				goVersion = goModVersion(t)
			}
			assert.Equal(t, []string{tc.want}, drift(edited, goVersion))
		})
	}
}

// `make build` links with the same flags as `make image`.
func TestMakeBuildMatchesMakeImage(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	cmd := exec.Command("make", "--no-print-directory", "-n", "build", "VERSION="+testVersion, "COMMIT="+testCommit, "UNIT_PKGS=")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	build, ok := parseGoBuild(strings.ReplaceAll(string(out), "\n", " "))
	require.True(t, ok, "make -n build printed no go build line:\n%s", out)
	for _, e := range BuildEnv {
		assert.Contains(t, build.env, e, "make build's environment")
	}
	assert.Equal(t, GoBuildArgs(testVersion, testCommit, build.out), build.args,
		"make build and make image (internal/imagebuild.GoBuildArgs) build differently: change one to match the other")
}
