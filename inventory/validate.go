package inventory

// Profile validation: is a file a seccomp profile the node's container
// runtime will load?
//
// containerd reads a Localhost profile with encoding/json into the OCI
// runtime-spec's specs.LinuxSeccomp and hands it to runc, which refuses
// unknown actions, architectures, operators and flags and empty syscall
// names; fields LinuxSeccomp lacks (moby's archMap, includes/excludes, the
// legacy singular name) are silently dropped. CRI-O reads the moby/containers
// format (github.com/moby/profiles/seccomp), which adds those fields and
// refuses architectures together with archMap, and name together with names.
// Both runtimes match JSON keys case-insensitively, as encoding/json does.
//
// Reasons name the field, the value and the line, e.g.
// `unknown action "SCMP_ACT_KILLME" in syscalls[0].action at line 3`.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Runtime is the container runtime whose reading of a profile the agent
// reproduces.
type Runtime string

// Runtimes the agent validates for.
const (
	RuntimeContainerd Runtime = "containerd"
	RuntimeCRIO       Runtime = "cri-o"
)

// RuntimeFromVersion maps a Node's status.nodeInfo.containerRuntimeVersion
// ("containerd://1.7.0", "cri-o://1.30.1") to the runtime whose rules apply.
// Anything else validates as containerd, with a note saying why.
func RuntimeFromVersion(version string) (Runtime, string) {
	scheme, _, _ := strings.Cut(version, "://")
	switch strings.ToLower(scheme) {
	case "containerd":
		return RuntimeContainerd, ""
	case "cri-o", "crio":
		return RuntimeCRIO, ""
	case "":
		return RuntimeContainerd, "the Node does not report its container runtime (status.nodeInfo.containerRuntimeVersion is empty); profiles are validated as containerd reads them"
	default:
		return RuntimeContainerd, fmt.Sprintf("container runtime %q is not one the agent knows (containerd, cri-o); profiles are validated as containerd reads them", version)
	}
}

// Validation is what ValidateProfile found.
type Validation struct {
	Valid bool
	// Reason says why the profile is not valid: the first problem, and how
	// many more there are.
	Reason string
	// DefaultAction is the profile's defaultAction as written, when the file
	// is a JSON object.
	DefaultAction string
	// Warnings name fields the runtime ignores.
	Warnings []string
	// SilentActions are the refusing actions that leave no audit record
	// (silentActions); only for a valid profile.
	SilentActions []string
}

// Known values, as runc (behind containerd and CRI-O) accepts them.
var (
	knownActions = setOf(specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap,
		specs.ActErrno, specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify)
	knownArches = setOf(specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
		specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL, specs.ArchMIPSEL64,
		specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE, specs.ArchS390,
		specs.ArchS390X, specs.ArchPARISC, specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64,
		specs.ArchM68K, specs.ArchSH, specs.ArchSHEB)
	knownOperators = setOf(specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
		specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual)
	// runc also accepts SECCOMP_FILTER_FLAG_TSYNC, which it sets anyway.
	knownFlags = setOf(specs.LinuxSeccompFlag("SECCOMP_FILTER_FLAG_TSYNC"), specs.LinuxSeccompFlagLog,
		specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagWaitKillableRecv)
)

func setOf[T ~string](vs ...T) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[string(v)] = true
	}
	return m
}

// Fields each runtime reads, lower-cased (encoding/json matches keys
// case-insensitively). Fields in neither list are ignored by both.
var (
	ociTopFields     = setOf("defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath", "listenerMetadata", "syscalls")
	ociSyscallFields = setOf("names", "action", "errnoRet", "args")
	mobyTopFields    = setOf("defaultAction", "defaultErrnoRet", "architectures", "archMap", "flags", "listenerPath", "listenerMetadata", "syscalls")
	mobySysFields    = setOf("names", "name", "action", "errnoRet", "args", "comment", "includes", "excludes")
	// mobyOnly are the moby/CRI-O extensions of a syscall rule that containerd drops.
	mobyOnly = setOf("includes", "excludes")
)

func lower(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[strings.ToLower(k)] = true
	}
	return out
}

func init() {
	ociTopFields, ociSyscallFields = lower(ociTopFields), lower(ociSyscallFields)
	mobyTopFields, mobySysFields, mobyOnly = lower(mobyTopFields), lower(mobySysFields), lower(mobyOnly)
}

// MaxJSONDepth is how deeply a profile's JSON may nest. A seccomp profile
// nests 5 levels at most (syscalls[].args[]); a file nested deeper is
// refused before it is decoded, since decoding and locating every value of
// a deeply nested file costs memory that grows with the square of its depth.
const MaxJSONDepth = 32

// ValidateProfile checks data as rt reads a Localhost seccomp profile.
func ValidateProfile(data []byte, rt Runtime) Validation {
	if len(bytes.TrimSpace(data)) == 0 {
		return Validation{Reason: "empty file"}
	}
	if off := tooDeep(data); off >= 0 {
		line, col := lineCol(data, int64(off))
		return Validation{Reason: fmt.Sprintf("JSON nested more than %d levels deep at line %d, column %d; a seccomp profile nests 5 levels at most", MaxJSONDepth, line, col)}
	}
	// Syntax first, without building the values (json.RawMessage keeps the bytes).
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		return Validation{Reason: jsonErrorReason(data, err)}
	}
	doc := newDocument(data)
	var (
		v   Validation
		err error
	)
	if rt == RuntimeCRIO {
		v, err = validateMoby(data, doc)
	} else {
		v, err = validateOCI(data, doc)
	}
	if err != nil {
		return Validation{Reason: jsonErrorReason(data, err)}
	}
	return v
}

// tooDeep is the offset of the first '{' or '[' that opens a level deeper
// than MaxJSONDepth (outside strings), or -1. It reads the bytes once and
// allocates nothing, so that it can run before any decoding.
func tooDeep(data []byte) int {
	depth := 0
	inString, escaped := false, false
	for i, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > MaxJSONDepth {
				return i
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return -1
}

// problems collects what makes a profile invalid, in document order: the
// first one in words (with its line), the others counted.
type problems struct {
	doc   *document
	first string
	count int
}

func (p *problems) add(field, format string, args ...any) {
	p.count++
	if p.count > 1 {
		return // only counted: locating every problem of a big file costs a pass over it each
	}
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg += " in " + field + p.doc.at(field)
	}
	p.first = msg
}

func (p *problems) validation(defaultAction string, warnings []string) Validation {
	v := Validation{DefaultAction: defaultAction, Warnings: warnings}
	switch p.count {
	case 0:
		v.Valid = true
	case 1:
		v.Reason = p.first
	case 2:
		v.Reason = p.first + " (and 1 more problem)"
	default:
		v.Reason = fmt.Sprintf("%s (and %d more problems)", p.first, p.count-1)
	}
	return v
}

// silentActions are the profile's actions whose refusals leave no audit
// record: the kernel logs SCMP_ACT_ERRNO and SCMP_ACT_TRAP only for a
// filter loaded with SECCOMP_FILTER_FLAG_LOG (LOG and KILL always), so
// violation monitoring cannot see them. Nil with the flag.
func silentActions(s *specs.LinuxSeccomp) []string {
	if slices.Contains(s.Flags, specs.LinuxSeccompFlagLog) {
		return nil
	}
	var out []string
	for _, a := range []specs.LinuxSeccompAction{specs.ActErrno, specs.ActTrap} {
		if s.DefaultAction == a || slices.ContainsFunc(s.Syscalls, func(sc specs.LinuxSyscall) bool { return sc.Action == a }) {
			out = append(out, string(a))
		}
	}
	return out
}

// checkCommon applies runc's rules to the fields both formats share.
func (p *problems) checkCommon(s *specs.LinuxSeccomp) {
	switch {
	case s.DefaultAction == "":
		p.add("", "missing defaultAction")
	case !knownActions[string(s.DefaultAction)]:
		p.add("defaultAction", "unknown action %q", s.DefaultAction)
	case s.DefaultAction == specs.ActNotify:
		p.add("defaultAction", "%s cannot be the default action", s.DefaultAction)
	}
	for i, a := range s.Architectures {
		if !knownArches[string(a)] {
			p.add(fmt.Sprintf("architectures[%d]", i), "unknown architecture %q", a)
		}
	}
	for i, f := range s.Flags {
		if !knownFlags[string(f)] {
			p.add(fmt.Sprintf("flags[%d]", i), "unknown flag %q", f)
		}
	}
}

func (p *problems) checkSyscall(i int, sc *specs.LinuxSyscall) {
	for j, name := range sc.Names {
		if strings.TrimSpace(name) == "" {
			p.add(fmt.Sprintf("syscalls[%d].names[%d]", i, j), "empty syscall name")
		}
	}
	if !knownActions[string(sc.Action)] {
		if sc.Action == "" {
			p.add(fmt.Sprintf("syscalls[%d]", i), "missing action")
		} else {
			p.add(fmt.Sprintf("syscalls[%d].action", i), "unknown action %q", sc.Action)
		}
	}
	for k, arg := range sc.Args {
		if !knownOperators[string(arg.Op)] {
			p.add(fmt.Sprintf("syscalls[%d].args[%d].op", i, k), "unknown operator %q", arg.Op)
		}
	}
}

// validateOCI reads the profile as containerd does.
func validateOCI(data []byte, doc *document) (Validation, error) {
	var s specs.LinuxSeccomp
	if err := json.Unmarshal(data, &s); err != nil {
		return Validation{}, err
	}
	p := &problems{doc: doc}
	p.checkCommon(&s)
	for i := range s.Syscalls {
		p.checkSyscall(i, &s.Syscalls[i])
	}

	var warnings []string
	for _, key := range doc.keys("") {
		switch {
		case ociTopFields[key]:
		case key == "archmap":
			warnings = append(warnings, doc.name(key)+" is ignored by containerd (only moby and CRI-O read it); list the architectures in architectures instead")
		default:
			warnings = append(warnings, fmt.Sprintf("unknown field %q is ignored by containerd", doc.name(key)))
		}
	}
	for i, sc := range s.Syscalls {
		at := fmt.Sprintf("syscalls[%d]", i)
		for _, key := range doc.keys(at) {
			switch {
			case ociSyscallFields[key], key == "comment":
			case key == "name":
				warnings = append(warnings, at+"."+doc.name(at+"."+key)+" is ignored by containerd (only moby and CRI-O read it), so the rule has no effect; use names")
			case mobyOnly[key]:
				warnings = append(warnings, fmt.Sprintf("%s.%s is ignored by containerd (only moby and CRI-O read it): the rule applies unconditionally", at, doc.name(at+"."+key)))
			default:
				warnings = append(warnings, fmt.Sprintf("unknown field %q in %s is ignored by containerd", doc.name(at+"."+key), at))
			}
		}
		if len(sc.Names) == 0 && doc.names[at+".name"] == "" {
			warnings = append(warnings, at+" names no syscall and has no effect")
		}
	}
	v := p.validation(string(s.DefaultAction), warnings)
	if v.Valid {
		v.SilentActions = silentActions(&s)
	}
	return v, nil
}

// validateMoby reads the profile as CRI-O does (the moby/containers format).
func validateMoby(data []byte, doc *document) (Validation, error) {
	var s mobyseccomp.Seccomp
	if err := json.Unmarshal(data, &s); err != nil {
		return Validation{}, err
	}
	p := &problems{doc: doc}
	p.checkCommon(&s.LinuxSeccomp)
	if len(s.Architectures) > 0 && len(s.ArchMap) > 0 {
		p.add("archMap", "both architectures and archMap are set; use one of them")
	}
	for i, am := range s.ArchMap {
		if !knownArches[string(am.Arch)] {
			p.add(fmt.Sprintf("archMap[%d].architecture", i), "unknown architecture %q", am.Arch)
		}
		for j, sub := range am.SubArches {
			if !knownArches[string(sub)] {
				p.add(fmt.Sprintf("archMap[%d].subArchitectures[%d]", i, j), "unknown architecture %q", sub)
			}
		}
	}
	var warnings []string
	for _, key := range doc.keys("") {
		if !mobyTopFields[key] {
			warnings = append(warnings, fmt.Sprintf("unknown field %q is ignored by CRI-O", doc.name(key)))
		}
	}
	for i, sc := range s.Syscalls {
		at := fmt.Sprintf("syscalls[%d]", i)
		if sc == nil {
			p.add(at, "null syscall rule")
			continue
		}
		call := sc.LinuxSyscall
		legacyName := sc.Name //nolint:staticcheck // deprecated, but CRI-O still reads it, and so must we
		if legacyName != "" {
			if len(sc.Names) > 0 {
				p.add(at+".name", "both name and names are set; use names")
			}
			call.Names = []string{legacyName}
		}
		p.checkSyscall(i, &call)
		for _, key := range doc.keys(at) {
			if !mobySysFields[key] {
				warnings = append(warnings, fmt.Sprintf("unknown field %q in %s is ignored by CRI-O", doc.name(at+"."+key), at))
			}
		}
		if len(call.Names) == 0 {
			warnings = append(warnings, at+" names no syscall and has no effect")
		}
	}
	v := p.validation(string(s.DefaultAction), warnings)
	ls := s.LinuxSeccomp // moby's syscalls shadow the embedded ones
	ls.Syscalls = make([]specs.LinuxSyscall, len(s.Syscalls))
	for i := range s.Syscalls {
		ls.Syscalls[i] = s.Syscalls[i].LinuxSyscall
	}
	if v.Valid {
		v.SilentActions = silentActions(&ls)
	}
	return v, nil
}

// jsonErrorReason describes a decoding error with where it happened.
func jsonErrorReason(data []byte, err error) string {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		// Offset counts the bytes read when the error was found: the
		// offending byte is the last of them.
		line, col := lineCol(data, syntax.Offset-1)
		return fmt.Sprintf("invalid JSON at line %d, column %d: %s", line, col, syntax.Error())
	case errors.As(err, &typeErr):
		found := jsonValue(typeErr.Value)
		// The value in error is the last one that starts before the offset.
		doc := newDocument(data)
		field := doc.containing(typeErr.Offset)
		if field == "" {
			return fmt.Sprintf("not a seccomp profile: the file holds %s, not a JSON object", found)
		}
		return fmt.Sprintf("wrong type in %s%s: want %s, found %s", doc.displayed(field), doc.at(field), jsonKind(typeErr.Type.Kind().String()), found)
	default:
		return "invalid profile: " + err.Error()
	}
}

// jsonValue turns encoding/json's description of a value ("number -1",
// "array") into words.
func jsonValue(v string) string {
	kind, literal, _ := strings.Cut(v, " ")
	switch {
	case literal != "":
		return "the " + kind + " " + literal
	case kind == "array" || kind == "object":
		return "an " + kind
	case kind == "bool":
		return "a boolean"
	default:
		return "a " + kind
	}
}

func jsonKind(goKind string) string {
	switch {
	case goKind == "string":
		return "a string"
	case goKind == "slice" || goKind == "array":
		return "an array"
	case goKind == "struct" || goKind == "map" || goKind == "ptr":
		return "an object"
	case goKind == "bool":
		return "a boolean"
	case strings.HasPrefix(goKind, "uint"):
		return "a non-negative integer"
	case strings.HasPrefix(goKind, "int"):
		return "an integer"
	default:
		return goKind
	}
}

// lineCol is the 1-based line and column (in characters) of byte offset off.
func lineCol(data []byte, off int64) (int, int) {
	if off < 0 {
		off = 0
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[start:]) + 1
}

// document maps the JSON paths of a profile ("syscalls[1].names[0]", keys
// lower-cased) to where their values start, and remembers each object's keys
// as written, so messages can point at a line.
//
// It records only what messages can point at: values at most recordDepth
// deep, and nothing inside a field the runtimes do not read (whose contents
// are never decoded). Array elements that are not objects or arrays get no
// path of their own, only their offset, so that a 1 MiB array of names costs
// a slice of offsets, not a map of strings.
type document struct {
	data    []byte
	offsets map[string]int64    // lower-cased path of an object member or of an object or array -> where its value starts
	elems   map[string][]int64  // lower-cased path of an array -> where each element starts
	names   map[string]string   // lower-cased path -> its last key as written
	display map[string]string   // lower-cased path of an object member or of an object or array -> path as written
	keyList map[string][]string // object path -> its lower-cased keys, in order, once each
}

// recordDepth is how deep the values that messages point at are
// (syscalls[i].args[k].op is 5).
const recordDepth = 6

func newDocument(data []byte) *document {
	d := &document{data: data, offsets: map[string]int64{}, elems: map[string][]int64{}, names: map[string]string{}, display: map[string]string{"": ""}, keyList: map[string][]string{}}
	d.offsets[""] = d.valueStart(0)
	dec := json.NewDecoder(bytes.NewReader(data))
	// The data was checked to be valid JSON, so walk only stops at the end.
	_ = d.walk(dec, "", 1, true)
	return d
}

// walk reads the value at path, depth levels deep, recording its contents
// when record is set.
func (d *document) walk(dec *json.Decoder, path string, depth int, record bool) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	record = record && depth < recordDepth
	switch tok {
	case json.Delim('{'):
		var seen map[string]bool
		for dec.More() {
			keyTok, err := dec.Token()
			if err != nil {
				return err
			}
			if !record {
				if err := d.walk(dec, "", depth+1, false); err != nil {
					return err
				}
				continue
			}
			key, _ := keyTok.(string)
			lk := strings.ToLower(key)
			child, shown := lk, key
			if path != "" {
				child, shown = path+"."+lk, d.display[path]+"."+key
			}
			d.names[child] = key
			d.display[child] = shown
			d.offsets[child] = d.valueStart(dec.InputOffset())
			if seen == nil {
				seen = map[string]bool{}
			}
			if !seen[lk] {
				seen[lk] = true
				d.keyList[path] = append(d.keyList[path], lk)
			}
			if err := d.walk(dec, child, depth+1, readField(path, lk)); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			var child string
			if record {
				start := d.valueStart(dec.InputOffset())
				d.elems[path] = append(d.elems[path], start)
				if start < int64(len(d.data)) && (d.data[start] == '{' || d.data[start] == '[') {
					idx := "[" + strconv.Itoa(i) + "]"
					child = path + idx
					d.offsets[child] = start
					d.display[child] = d.display[path] + idx
				}
			}
			if err := d.walk(dec, child, depth+1, child != ""); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	}
	return err
}

// readField says whether a runtime reads the field key of the object at
// path, so that messages may point inside it.
func readField(path, key string) bool {
	switch {
	case path == "":
		return mobyTopFields[key]
	case strings.HasPrefix(path, "syscalls[") && !strings.Contains(path, "."):
		return mobySysFields[key]
	}
	return true
}

// valueStart skips the whitespace and separators after the previous token.
func (d *document) valueStart(off int64) int64 {
	for off < int64(len(d.data)) {
		switch d.data[off] {
		case ' ', '\t', '\r', '\n', ':', ',':
			off++
		default:
			return off
		}
	}
	return off
}

// containing is the path of the last value that starts before off: the
// one being decoded when encoding/json stopped there.
func (d *document) containing(off int64) string {
	best, bestOff := "", int64(-1)
	better := func(p string, o int64) bool {
		return o < off && (o > bestOff || o == bestOff && len(p) > len(best))
	}
	for p, o := range d.offsets {
		if better(p, o) {
			best, bestOff = p, o
		}
	}
	for p, starts := range d.elems {
		// The last element that starts before off.
		i := sort.Search(len(starts), func(i int) bool { return starts[i] >= off }) - 1
		if i >= 0 {
			if child := p + "[" + strconv.Itoa(i) + "]"; better(child, starts[i]) {
				best, bestOff = child, starts[i]
			}
		}
	}
	return best
}

// offset is where the value at a lower-cased path starts.
func (d *document) offset(path string) (int64, bool) {
	if off, ok := d.offsets[path]; ok {
		return off, true
	}
	parent, i, ok := splitIndex(path)
	if !ok || i >= len(d.elems[parent]) {
		return 0, false
	}
	return d.elems[parent][i], true
}

// splitIndex splits "a.b[3]" into "a.b" and 3.
func splitIndex(path string) (string, int, bool) {
	if !strings.HasSuffix(path, "]") {
		return "", 0, false
	}
	open := strings.LastIndexByte(path, '[')
	if open < 0 {
		return "", 0, false
	}
	i, err := strconv.Atoi(path[open+1 : len(path)-1])
	if err != nil {
		return "", 0, false
	}
	return path[:open], i, true
}

// displayed is a lower-cased path as the file spells it.
func (d *document) displayed(path string) string {
	if shown, ok := d.display[path]; ok {
		return shown
	}
	if parent, i, ok := splitIndex(path); ok {
		return d.displayed(parent) + "[" + strconv.Itoa(i) + "]"
	}
	return path
}

// at is " at line N" for a field path, or "" when the path is not in the file.
func (d *document) at(field string) string {
	off, ok := d.offset(strings.ToLower(field))
	if !ok {
		return ""
	}
	line, _ := lineCol(d.data, off)
	return fmt.Sprintf(" at line %d", line)
}

// keys lists the keys of the object at path, lower-cased, in document order.
func (d *document) keys(path string) []string { return d.keyList[strings.ToLower(path)] }

// name is the key of a path as the file spells it.
func (d *document) name(path string) string {
	if n, ok := d.names[strings.ToLower(path)]; ok {
		return n
	}
	return path
}
