package webhook

// The request path's JSON decoder: one pass over the AdmissionReview body
// that validates it and fills the trimmed types (trimmed.go), with no
// reflection and nothing built that is not kept.
//
// It reads a body exactly as the API server's decoder does
// (sigs.k8s.io/json's UnmarshalCaseSensitivePreserveInts into the same
// types, which is encoding/json with case-sensitive keys):
//
//   - the whole body must be one JSON value (RFC 8259), at most 10,000
//     arrays and objects deep, with nothing but whitespace after it; the
//     first syntax error is reported in encoding/json's words, and no
//     value is returned;
//   - keys match field names exactly (after unescaping); unknown keys are
//     skipped, and skipped values are validated in the same pass;
//   - a duplicate key is decoded again into the same field: an object
//     merges into the struct or map already there, an array is decoded
//     element by element into the slice already there (encoding/json
//     reuses its elements and capacity), a scalar is replaced; null sets
//     a pointer, map or slice to nil and leaves a struct, string, bool or
//     number as it is;
//   - strings are unescaped, with invalid UTF-8 and unpaired surrogates
//     turned into U+FFFD one byte or escape at a time;
//   - a value of the wrong JSON type, or a number that is not an integer
//     in range for an integer field, is a type error: the value is
//     skipped, decoding goes on, and the first type error is returned at
//     the end, worded as encoding/json words it (the struct, the path of
//     JSON field names from the root, the Go type);
//   - request.object and request.oldObject (rawObject) decode as if each
//     decoded itself through json.Unmarshaler, by runtime.RawExtension's
//     rules: null leaves the field as it was, any other value replaces it
//     whole and keeps its bytes, and the value's own first type error
//     (named from the value's root) is kept with it, not returned;
//   - a pod template's raw bytes are kept (trimmedTemplate), a second
//     template in one object is errDuplicateTemplate (returned: it ends
//     the decode), and a type error inside a template is the object's
//     even over an earlier one outside the template, as when the template
//     decoded itself through json.Unmarshaler.
//
// scan_test.go holds the reference (that decoder, into the same types) and
// compares the two on fixtures, on every error path and under fuzzing.

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxNestingDepth is encoding/json's: the arrays and objects that may be
// open at once.
const maxNestingDepth = 10000

// syntaxError is a body that is not JSON, in encoding/json's words.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

// typeError is a JSON value of the wrong type for its field, worded as
// encoding/json's UnmarshalTypeError.
type typeError struct {
	value string // "string", "number", "number 1.5", "bool", "array", "object"
	strct string // the Go struct the field belongs to; "" at the top level
	field string // the path of JSON field names from the root
	typ   string // the Go type of the field
}

func (e *typeError) Error() string {
	if e.strct != "" || e.field != "" {
		return "json: cannot unmarshal " + e.value + " into Go struct field " + e.strct + "." + e.field + " of type " + e.typ
	}
	return "json: cannot unmarshal " + e.value + " into Go value of type " + e.typ
}

const msgUnexpectedEnd = "unexpected end of JSON input"

// scanner is the state of one decode.
type scanner struct {
	data  []byte
	i     int // the next byte to read
	depth int // arrays and objects open

	err   error // the first syntax error: it ends the scan
	hard  error // the first error that ends reference decoding (errDuplicateTemplate, a type error in a template); within an object, the object's
	saved error // the first other type error; within an object, the object's

	strct  string   // the struct whose field is being decoded, for type errors
	path   [][]byte // the JSON field names from the root to that field
	holder string   // inside a pod template: the struct that holds it (its type errors name it)
}

// scanReview decodes body into r.
func scanReview(body []byte, r *trimmedReview) error {
	s := scanner{data: body, path: make([][]byte, 0, 16)}
	s.ws()
	s.review(r)
	if s.err == nil {
		s.ws()
		if s.i < len(s.data) {
			s.syntax(s.i, "after top-level value")
		}
	}
	switch {
	case s.err != nil:
		return s.err
	case s.hard != nil:
		return s.hard
	}
	return s.saved
}

// --- Errors.

// syntax records a syntax error at byte i (a space past the end, as
// encoding/json's scanner is fed one at the end of its input).
func (s *scanner) syntax(i int, context string) {
	if s.err != nil {
		return
	}
	c := byte(' ')
	if i < len(s.data) {
		c = s.data[i]
	}
	s.err = &syntaxError{msg: "invalid character " + quoteChar(c) + " " + context}
	s.i = len(s.data)
}

// unexpectedEnd records that the body ends inside a value.
func (s *scanner) unexpectedEnd() {
	if s.err == nil {
		s.err = &syntaxError{msg: msgUnexpectedEnd}
	}
}

// quoteChar is encoding/json's: c as a quoted character literal.
func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	q := strconv.Quote(string(rune(c)))
	return "'" + q[1:len(q)-1] + "'"
}

// mismatch records a type error for the value at s.i, which a field of
// Go type typ cannot hold, and skips the value. number is the literal
// when the field is an integer.
func (s *scanner) mismatch(typ string, number []byte) {
	start := s.i
	s.skip()
	if s.err != nil || !s.keepsTypeError() {
		return
	}
	e := &typeError{typ: typ, strct: s.strct, field: s.pathString()}
	switch c := s.data[start]; {
	case number != nil:
		e.value = "number " + string(number)
	case c == '"':
		e.value = "string"
	case c == '{':
		e.value = "object"
	case c == '[':
		e.value = "array"
	case c == 't' || c == 'f':
		e.value = "bool"
	default:
		e.value = "number"
	}
	s.typeError(e)
}

// keepsTypeError reports whether a type error here would be kept: only the
// first one counts, so later ones cost no allocation.
func (s *scanner) keepsTypeError() bool {
	if s.holder != "" {
		return s.hard == nil
	}
	return s.saved == nil && s.hard == nil
}

func (s *scanner) typeError(e *typeError) {
	if s.holder != "" {
		// The template decoded itself: its first type error ended the
		// decode, named after the struct that holds the template.
		e.strct = s.holder
		s.hard = e
		return
	}
	s.saved = e
}

func (s *scanner) pathString() string {
	var b strings.Builder
	for i, p := range s.path {
		if i > 0 {
			b.WriteByte('.')
		}
		b.Write(p)
	}
	return b.String()
}

// --- Lexing. Each function starts at the first byte of its token.

func (s *scanner) ws() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// cur is the byte at s.i, or 0 at the end.
func (s *scanner) cur() byte {
	if s.i < len(s.data) {
		return s.data[s.i]
	}
	return 0
}

// open enters the array or object whose bracket is at s.i.
func (s *scanner) open() bool {
	s.depth++
	if s.depth > maxNestingDepth {
		s.syntax(s.i, "exceeded max depth")
		return false
	}
	s.i++
	s.ws()
	return true
}

// SWAR constants: a byte repeated eight times.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special has the high bit set in the first byte of w (little-endian) that
// is a quote, a backslash, a control character or not ASCII, if any, and
// is 0 if there is none. (Each term flags such bytes exactly up to the
// first one; a borrow may flag bytes after it too.)
func special(w uint64) uint64 {
	quote := w ^ (ones * '"')
	backslash := w ^ (ones * '\\')
	return ((quote-ones)&^quote | (backslash-ones)&^backslash | (w-ones*0x20)&^w | w) & highs
}

// scanString scans the string at s.i and returns its bytes between the quotes,
// and whether they are plain: no escapes and only ASCII, the string's own
// bytes.
func (s *scanner) scanString() (raw []byte, plain bool) {
	d := s.data
	start := s.i + 1
	plain = true
	for i := start; ; {
		for i+8 <= len(d) {
			if m := special(binary.LittleEndian.Uint64(d[i:])); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		if i >= len(d) {
			s.unexpectedEnd()
			s.i = len(d)
			return nil, false
		}
		switch c := d[i]; {
		case c == '"':
			s.i = i + 1
			return d[start:i], plain
		case c == '\\':
			plain = false
			if i = s.escape(i + 1); i < 0 {
				return nil, false
			}
		case c < 0x20:
			s.syntax(i, "in string literal")
			return nil, false
		default:
			if c >= utf8.RuneSelf {
				plain = false
			}
			i++
		}
	}
}

// escape checks the escape after a backslash at i and returns the index
// after it, or -1.
func (s *scanner) escape(i int) int {
	if i >= len(s.data) {
		s.syntax(i, "in string escape code")
		return -1
	}
	switch s.data[i] {
	case 'b', 'f', 'n', 'r', 't', '\\', '/', '"':
		return i + 1
	case 'u':
		for j := i + 1; j < i+5; j++ {
			if j >= len(s.data) || unhex(s.data[j]) < 0 {
				s.syntax(j, `in \u hexadecimal character escape`)
				return -1
			}
		}
		return i + 5
	}
	s.syntax(i, "in string escape code")
	return -1
}

func unhex(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// unquote turns the bytes of a scanned string that is not plain into its
// value, as encoding/json does: escapes decoded, surrogate pairs joined,
// and invalid UTF-8 and unpaired surrogates replaced by U+FFFD.
func unquote(raw []byte) []byte {
	if utf8.Valid(raw) && !hasBackslash(raw) {
		return raw
	}
	b := make([]byte, 0, len(raw)+2*utf8.UTFMax)
	for r := 0; r < len(raw); {
		switch c := raw[r]; {
		case c == '\\':
			switch e := raw[r+1]; e {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := getu4(raw[r:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(raw[r:])); dec != utf8.RuneError {
						b = utf8.AppendRune(b, dec)
						r += 6
						continue
					}
					rr = utf8.RuneError
				}
				b = utf8.AppendRune(b, rr)
				continue
			default: // '"', '\\', '/'
				b = append(b, e)
			}
			r += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(raw[r:])
			b = utf8.AppendRune(b, rr)
			r += size
		}
	}
	return b
}

func hasBackslash(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// getu4 decodes \uXXXX at the start of b, or returns -1.
func getu4(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range b[2:6] {
		h := unhex(c)
		if h < 0 {
			return -1
		}
		r = r*16 + h
	}
	return r
}

// stringValue scans the string at s.i and returns its value.
func (s *scanner) stringValue() string {
	raw, plain := s.scanString()
	if plain {
		return string(raw)
	}
	return string(unquote(raw))
}

// key scans an object key and the colon after it, and leaves s.i at the
// value. The key's bytes are the body's unless it had to be unquoted.
func (s *scanner) key() []byte {
	raw, plain := s.keyRaw()
	if !plain && s.err == nil {
		raw = unquote(raw)
	}
	return raw
}

// keyRaw is key without the unquoting, for skipped objects.
func (s *scanner) keyRaw() (raw []byte, plain bool) {
	if s.cur() != '"' {
		s.endOr("looking for beginning of object key string")
		return nil, false
	}
	raw, plain = s.scanString()
	if s.err != nil {
		return nil, false
	}
	s.ws()
	if s.cur() != ':' {
		s.endOr("after object key")
		return nil, false
	}
	s.i++
	s.ws()
	return raw, plain
}

// endOr records a syntax error at s.i in context, or the end of input.
func (s *scanner) endOr(context string) {
	if s.i >= len(s.data) {
		s.unexpectedEnd()
		return
	}
	s.syntax(s.i, context)
}

// more is called after a value in an object (end '}') or an array (end
// ']'): it reports whether another member follows, leaving s.i at it.
func (s *scanner) more(end byte) bool {
	s.ws()
	switch s.cur() {
	case ',':
		s.i++
		s.ws()
		return true
	case end:
		s.i++
		s.depth--
		return false
	}
	if end == '}' {
		s.endOr("after object key:value pair")
	} else {
		s.endOr("after array element")
	}
	return false
}

// number scans the number at s.i and returns its bytes.
func (s *scanner) number() []byte {
	d, i := s.data, s.i
	digit := func(i int) bool { return i < len(d) && '0' <= d[i] && d[i] <= '9' }
	if d[i] == '-' {
		i++
		if !digit(i) {
			s.syntax(i, "in numeric literal")
			return nil
		}
	}
	if d[i] == '0' {
		i++
	} else {
		for i++; digit(i); i++ {
		}
	}
	if i < len(d) && d[i] == '.' {
		i++
		if !digit(i) {
			s.syntax(i, "after decimal point in numeric literal")
			return nil
		}
		for i++; digit(i); i++ {
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digit(i) {
			s.syntax(i, "in exponent of numeric literal")
			return nil
		}
		for i++; digit(i); i++ {
		}
	}
	start := s.i
	s.i = i
	return d[start:i]
}

// literal scans true, false or null, whose first letter is at s.i.
func (s *scanner) literal(word string) bool {
	for j := 1; j < len(word); j++ {
		if i := s.i + j; i >= len(s.data) || s.data[i] != word[j] {
			s.syntax(i, "in literal "+word+" (expecting "+quoteChar(word[j])+")")
			return false
		}
	}
	s.i += len(word)
	return true
}

// null consumes a null at s.i, if there is one.
func (s *scanner) null() bool {
	return s.cur() == 'n' && s.literal("null")
}

// skip scans and validates the value at s.i, of any depth up to the limit,
// without recursion: open containers are a stack of bits (1 for an object).
func (s *scanner) skip() {
	var small [4]uint64
	stack := small[:]
	n := 0 // containers open in this value
	for s.err == nil {
		// At the start of a value.
		switch c := s.cur(); c {
		case '{', '[':
			if !s.open() {
				return
			}
			if n/64 >= len(stack) {
				stack = append(stack, make([]uint64, len(stack))...)
			}
			if c == '{' {
				stack[n/64] |= 1 << (n % 64)
			} else {
				stack[n/64] &^= 1 << (n % 64)
			}
			n++
			if end := c + 2; s.cur() == end { // '{'+2 == '}', '['+2 == ']'
				s.i++
				s.depth--
				n--
				break
			}
			if c == '{' {
				s.keyRaw()
			}
			continue
		case '"':
			s.scanString()
		case 't':
			s.literal("true")
		case 'f':
			s.literal("false")
		case 'n':
			s.literal("null")
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			s.number()
		default:
			s.endOr("looking for beginning of value")
		}
		// After a value: close containers until one has another member.
		for s.err == nil {
			if n == 0 {
				return
			}
			object := stack[(n-1)/64]&(1<<((n-1)%64)) != 0
			end := byte(']')
			if object {
				end = '}'
			}
			if !s.more(end) {
				n--
				continue
			}
			if object {
				s.keyRaw()
			}
			break
		}
	}
}

// --- Values of the trimmed types' fields.

// fields decodes the object at s.i into a struct of Go type typ (named
// strct for type errors), handing each key to field, which decodes the
// value or returns false to have it skipped. null leaves the struct as it
// is.
func (s *scanner) fields(strct, typ string, field func(key []byte) bool) {
	switch s.cur() {
	case '{':
	case 'n':
		s.null()
		return
	default:
		s.mismatch(typ, nil)
		return
	}
	if !s.open() {
		return
	}
	if s.cur() == '}' {
		s.i++
		s.depth--
		return
	}
	outer, base := s.strct, len(s.path)
	for {
		key := s.key()
		if s.err != nil {
			break
		}
		s.strct = strct
		s.path = append(s.path, key)
		if !field(key) {
			s.skip()
		}
		s.path = s.path[:base]
		if !s.more('}') {
			break
		}
	}
	s.strct = outer
}

// podSpecName is the Go name of the struct trimmedSpec embeds.
var podSpecName = []byte("trimmedPodSpec")

// embedded puts the Go name of an embedded struct before the field being
// decoded in the path, as encoding/json names promoted fields.
func (s *scanner) embedded(name []byte) {
	n := len(s.path)
	s.path = append(s.path, s.path[n-1])
	s.path[n-1] = name
}

// str decodes a string into a field of a string type typ.
func str[T ~string](s *scanner, dst *T, typ string) {
	switch s.cur() {
	case '"':
		*dst = T(s.stringValue())
	case 'n':
		s.null()
	default:
		s.mismatch(typ, nil)
	}
}

// ptr sets *dst to nil for a null and returns nil, or returns *dst,
// allocated if it was nil, to decode into.
func ptr[T any](s *scanner, dst **T) *T {
	if s.null() {
		*dst = nil
		return nil
	}
	if s.err != nil {
		return nil
	}
	if *dst == nil {
		*dst = new(T)
	}
	return *dst
}

func stringPtr(s *scanner, dst **string) {
	if p := ptr(s, dst); p != nil {
		str(s, p, "string")
	}
}

func boolPtr(s *scanner, dst **bool) {
	p := ptr(s, dst)
	if p == nil {
		return
	}
	switch s.cur() {
	case 't':
		if s.literal("true") {
			*p = true
		}
	case 'f':
		if s.literal("false") {
			*p = false
		}
	default:
		s.mismatch("bool", nil)
	}
}

// integer decodes a number into an integer field of bits bits, Go type
// typ: encoding/json takes only an integer literal in range.
func (s *scanner) integer(bits int, typ string) (int64, bool) {
	switch c := s.cur(); {
	case c == '-' || '0' <= c && c <= '9':
	case c == 'n':
		s.null()
		return 0, false
	default:
		s.mismatch(typ, nil)
		return 0, false
	}
	start := s.i
	lit := s.number()
	if s.err != nil {
		return 0, false
	}
	n, ok := parseInt(lit, bits)
	if !ok {
		s.i = start
		s.mismatch(typ, lit)
		return 0, false
	}
	return n, true
}

// parseInt is strconv.ParseInt(lit, 10, bits) for a JSON number literal.
func parseInt(lit []byte, bits int) (int64, bool) {
	neg := lit[0] == '-'
	digits := lit
	if neg {
		digits = lit[1:]
	}
	limit := uint64(1) << (bits - 1) // the magnitude of the most negative value
	var n uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (limit+9)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > limit {
			return 0, false
		}
	}
	switch {
	case neg && n == limit:
		return -int64(limit-1) - 1, true // int64(limit) overflows for 64 bits
	case neg:
		return -int64(n), true
	case n == limit:
		return 0, false
	}
	return int64(n), true
}

func int64Ptr(s *scanner, dst **int64) {
	if p := ptr(s, dst); p != nil {
		if n, ok := s.integer(64, "int64"); ok {
			*p = n
		}
	}
}

func int32Value(s *scanner, dst *int32) {
	if n, ok := s.integer(32, "int32"); ok {
		*dst = int32(n)
	}
}

// stringMap decodes an object into a map[string]string: the map already
// there is added to, a null value is stored as "".
func (s *scanner) stringMap(dst *map[string]string) {
	switch s.cur() {
	case '{':
	case 'n':
		s.null()
		*dst = nil
		return
	default:
		s.mismatch("map[string]string", nil)
		return
	}
	if *dst == nil {
		*dst = map[string]string{}
	}
	if !s.open() {
		return
	}
	if s.cur() == '}' {
		s.i++
		s.depth--
		return
	}
	m := *dst
	for {
		key := s.key()
		if s.err != nil {
			return
		}
		var v string
		str(s, &v, "string")
		m[string(key)] = v
		if !s.more('}') {
			return
		}
	}
}

// slice decodes an array into a slice of Go type typ as encoding/json does:
// element i is decoded into the slice's element i where the slice already
// has one (a duplicate key merges into the elements of the first), the
// capacity grows as reflect.Value.Grow grows it (so elements left beyond
// the length by an earlier decode are reused the same way), and an empty
// array is an empty, not a nil, slice.
func slice[T any](s *scanner, dst *[]T, typ string, elem func(*T)) {
	switch s.cur() {
	case '[':
	case 'n':
		s.null()
		*dst = nil
		return
	default:
		s.mismatch(typ, nil)
		return
	}
	if !s.open() {
		return
	}
	v, i := *dst, 0
	if s.cur() == ']' {
		s.i++
		s.depth--
	} else {
		for {
			if i >= cap(v) {
				var zero T
				v = append(v, zero)
			} else if i >= len(v) {
				v = v[:i+1]
			}
			elem(&v[i])
			i++
			if !s.more(']') {
				break
			}
		}
	}
	if i < len(v) {
		v = v[:i]
	}
	if i == 0 {
		v = []T{}
	}
	*dst = v
}

// --- The trimmed types.

func (s *scanner) review(r *trimmedReview) {
	s.fields("trimmedReview", "webhook.trimmedReview", func(key []byte) bool {
		switch string(key) {
		case "apiVersion":
			str(s, &r.APIVersion, "string")
		case "kind":
			str(s, &r.Kind, "string")
		case "request":
			if q := ptr(s, &r.Request); q != nil {
				s.request(q)
			}
		default:
			return false
		}
		return true
	})
}

func (s *scanner) request(q *trimmedRequest) {
	s.fields("trimmedRequest", "webhook.trimmedRequest", func(key []byte) bool {
		switch string(key) {
		case "uid":
			str(s, &q.UID, "types.UID")
		case "kind":
			k := &q.Kind
			s.fields("GroupVersionKind", "v1.GroupVersionKind", func(key []byte) bool {
				return groupVersion(s, key, &k.Group, &k.Version, "kind", &k.Kind)
			})
		case "resource":
			r := &q.Resource
			s.fields("GroupVersionResource", "v1.GroupVersionResource", func(key []byte) bool {
				return groupVersion(s, key, &r.Group, &r.Version, "resource", &r.Resource)
			})
		case "subResource":
			str(s, &q.SubResource, "string")
		case "name":
			str(s, &q.Name, "string")
		case "namespace":
			str(s, &q.Namespace, "string")
		case "operation":
			str(s, &q.Operation, "v1.Operation")
		case "userInfo":
			s.fields("trimmedUserInfo", "webhook.trimmedUserInfo", func(key []byte) bool {
				if string(key) != "username" {
					return false
				}
				str(s, &q.UserInfo.Username, "string")
				return true
			})
		case "object":
			s.rawObject(&q.Object)
		case "oldObject":
			s.rawObject(&q.OldObject)
		default:
			return false
		}
		return true
	})
}

// groupVersion decodes a field of a GroupVersionKind or GroupVersionResource.
func groupVersion(s *scanner, key []byte, group, version *string, lastName string, last *string) bool {
	switch string(key) {
	case "group":
		str(s, group, "string")
	case "version":
		str(s, version, "string")
	case lastName:
		str(s, last, "string")
	default:
		return false
	}
	return true
}

// rawObject decodes request.object or request.oldObject by rawObject's
// rules: null leaves it as it was; any other value replaces it whole and is
// decoded on its own, as when it decoded itself through json.Unmarshaler
// (json.Unmarshal of the value into a trimmedObject), so its type errors
// are its own, named from the value's root, and kept with it rather than
// returned. A duplicate pod template in it still ends the decode.
func (s *scanner) rawObject(o *rawObject) {
	if s.null() || s.err != nil {
		return
	}
	start := s.i
	*o = rawObject{obj: new(trimmedObject)}
	path, strct, saved, hard := s.path, s.strct, s.saved, s.hard
	s.path, s.strct, s.saved, s.hard = s.path[len(s.path):], "", nil, nil
	s.object(o.obj)
	err := s.hard
	if err == nil {
		err = s.saved
	}
	s.path, s.strct, s.saved, s.hard = path, strct, saved, hard
	if s.err != nil {
		return
	}
	o.raw = s.data[start:s.i]
	switch {
	case err == nil:
	case errors.Is(err, errDuplicateTemplate):
		if s.hard == nil {
			s.hard = err
		}
	default:
		o.obj, o.err = nil, err
	}
}

func (s *scanner) object(o *trimmedObject) {
	s.fields("trimmedObject", "webhook.trimmedObject", func(key []byte) bool {
		switch string(key) {
		case "apiVersion":
			str(s, &o.APIVersion, "string")
		case "kind":
			str(s, &o.Kind, "string")
		case "metadata":
			s.meta(&o.Metadata)
		case "spec":
			s.spec(&o.Spec)
		case "template":
			s.template(&o.Template, "trimmedObject")
		default:
			return false
		}
		return true
	})
}

func (s *scanner) meta(m *trimmedMeta) {
	s.fields("trimmedMeta", "webhook.trimmedMeta", func(key []byte) bool {
		switch string(key) {
		case "name":
			str(s, &m.Name, "string")
		case "namespace":
			str(s, &m.Namespace, "string")
		case "labels":
			s.stringMap(&m.Labels)
		case "annotations":
			s.stringMap(&m.Annotations)
		case "ownerReferences":
			slice(s, &m.OwnerReferences, "[]v1.OwnerReference", s.ownerReference)
		default:
			return false
		}
		return true
	})
}

func (s *scanner) ownerReference(r *metav1.OwnerReference) {
	s.fields("OwnerReference", "v1.OwnerReference", func(key []byte) bool {
		switch string(key) {
		case "apiVersion":
			str(s, &r.APIVersion, "string")
		case "kind":
			str(s, &r.Kind, "string")
		case "name":
			str(s, &r.Name, "string")
		case "uid":
			str(s, &r.UID, "types.UID")
		case "controller":
			boolPtr(s, &r.Controller)
		case "blockOwnerDeletion":
			boolPtr(s, &r.BlockOwnerDeletion)
		default:
			return false
		}
		return true
	})
}

func (s *scanner) spec(sp *trimmedSpec) {
	s.fields("trimmedSpec", "webhook.trimmedSpec", func(key []byte) bool {
		switch string(key) {
		case "template":
			s.template(&sp.Template, "trimmedSpec")
		case "jobTemplate":
			jt := &sp.JobTemplate
			s.fields("trimmedJobTemplate", "webhook.trimmedJobTemplate", func(key []byte) bool {
				if string(key) != "spec" {
					return false
				}
				s.fields("trimmedJobSpec", "webhook.trimmedJobSpec", func(key []byte) bool {
					if string(key) != "template" {
						return false
					}
					s.template(&jt.Spec.Template, "trimmedJobSpec")
					return true
				})
				return true
			})
		default:
			s.embedded(podSpecName)
			return s.podSpecField(&sp.trimmedPodSpec, key)
		}
		return true
	})
}

// template decodes a pod template, keeping its bytes; holder is the struct
// whose field it is.
func (s *scanner) template(t *trimmedTemplate, holder string) {
	if t.raw != nil {
		if s.hard == nil {
			s.hard = errDuplicateTemplate
		}
		s.skip()
		return
	}
	start := s.i
	if s.null() {
		t.raw = s.data[start:s.i] // present stays false: a ReplicationController's template is nil
		return
	}
	t.present = true
	outer := s.holder
	if outer == "" {
		s.holder = holder
	}
	f := &t.templateFields
	s.fields("templateFields", "webhook.templateFields", func(key []byte) bool {
		switch string(key) {
		case "metadata":
			s.meta(&f.Metadata)
		case "spec":
			s.podSpec(&f.Spec)
		default:
			return false
		}
		return true
	})
	s.holder = outer
	if s.err == nil {
		t.raw = s.data[start:s.i]
	}
}

func (s *scanner) podSpec(p *trimmedPodSpec) {
	s.fields("trimmedPodSpec", "webhook.trimmedPodSpec", func(key []byte) bool {
		return s.podSpecField(p, key)
	})
}

func (s *scanner) podSpecField(p *trimmedPodSpec, key []byte) bool {
	switch string(key) {
	case "securityContext":
		if sc := ptr(s, &p.SecurityContext); sc != nil {
			s.fields("trimmedPodSecurityContext", "webhook.trimmedPodSecurityContext", func(key []byte) bool {
				if string(key) != "seccompProfile" {
					return false
				}
				s.seccompProfile(&sc.SeccompProfile)
				return true
			})
		}
	case "initContainers":
		slice(s, &p.InitContainers, "[]webhook.trimmedContainer", s.container)
	case "containers":
		slice(s, &p.Containers, "[]webhook.trimmedContainer", s.container)
	case "ephemeralContainers":
		slice(s, &p.EphemeralContainers, "[]webhook.trimmedContainer", s.container)
	case "runtimeClassName":
		stringPtr(s, &p.RuntimeClassName)
	case "os":
		if podOS := ptr(s, &p.OS); podOS != nil {
			s.fields("PodOS", "v1.PodOS", func(key []byte) bool {
				if string(key) != "name" {
					return false
				}
				str(s, &podOS.Name, "v1.OSName")
				return true
			})
		}
	case "nodeName":
		str(s, &p.NodeName, "string")
	case "nodeSelector":
		s.stringMap(&p.NodeSelector)
	case "affinity":
		if a := ptr(s, &p.Affinity); a != nil {
			s.fields("trimmedAffinity", "webhook.trimmedAffinity", func(key []byte) bool {
				if string(key) != "nodeAffinity" {
					return false
				}
				if na := ptr(s, &a.NodeAffinity); na != nil {
					s.nodeAffinity(na)
				}
				return true
			})
		}
	case "tolerations":
		slice(s, &p.Tolerations, "[]v1.Toleration", s.toleration)
	case "schedulingGates":
		slice(s, &p.SchedulingGates, "[]v1.PodSchedulingGate", func(g *corev1.PodSchedulingGate) {
			s.fields("PodSchedulingGate", "v1.PodSchedulingGate", func(key []byte) bool {
				if string(key) != "name" {
					return false
				}
				str(s, &g.Name, "string")
				return true
			})
		})
	default:
		return false
	}
	return true
}

func (s *scanner) container(c *trimmedContainer) {
	s.fields("trimmedContainer", "webhook.trimmedContainer", func(key []byte) bool {
		switch string(key) {
		case "name":
			str(s, &c.Name, "string")
		case "securityContext":
			sc := ptr(s, &c.SecurityContext)
			if sc == nil {
				break
			}
			s.fields("trimmedSecurityContext", "webhook.trimmedSecurityContext", func(key []byte) bool {
				switch string(key) {
				case "seccompProfile":
					s.seccompProfile(&sc.SeccompProfile)
				case "privileged":
					boolPtr(s, &sc.Privileged)
				default:
					return false
				}
				return true
			})
		default:
			return false
		}
		return true
	})
}

func (s *scanner) seccompProfile(dst **corev1.SeccompProfile) {
	sp := ptr(s, dst)
	if sp == nil {
		return
	}
	s.fields("SeccompProfile", "v1.SeccompProfile", func(key []byte) bool {
		switch string(key) {
		case "type":
			str(s, &sp.Type, "v1.SeccompProfileType")
		case "localhostProfile":
			stringPtr(s, &sp.LocalhostProfile)
		default:
			return false
		}
		return true
	})
}

func (s *scanner) toleration(t *corev1.Toleration) {
	s.fields("Toleration", "v1.Toleration", func(key []byte) bool {
		switch string(key) {
		case "key":
			str(s, &t.Key, "string")
		case "operator":
			str(s, &t.Operator, "v1.TolerationOperator")
		case "value":
			str(s, &t.Value, "string")
		case "effect":
			str(s, &t.Effect, "v1.TaintEffect")
		case "tolerationSeconds":
			int64Ptr(s, &t.TolerationSeconds)
		default:
			return false
		}
		return true
	})
}

func (s *scanner) nodeAffinity(na *corev1.NodeAffinity) {
	s.fields("NodeAffinity", "v1.NodeAffinity", func(key []byte) bool {
		switch string(key) {
		case "requiredDuringSchedulingIgnoredDuringExecution":
			ns := ptr(s, &na.RequiredDuringSchedulingIgnoredDuringExecution)
			if ns == nil {
				break
			}
			s.fields("NodeSelector", "v1.NodeSelector", func(key []byte) bool {
				if string(key) != "nodeSelectorTerms" {
					return false
				}
				slice(s, &ns.NodeSelectorTerms, "[]v1.NodeSelectorTerm", s.nodeSelectorTerm)
				return true
			})
		case "preferredDuringSchedulingIgnoredDuringExecution":
			slice(s, &na.PreferredDuringSchedulingIgnoredDuringExecution, "[]v1.PreferredSchedulingTerm", func(p *corev1.PreferredSchedulingTerm) {
				s.fields("PreferredSchedulingTerm", "v1.PreferredSchedulingTerm", func(key []byte) bool {
					switch string(key) {
					case "weight":
						int32Value(s, &p.Weight)
					case "preference":
						s.nodeSelectorTerm(&p.Preference)
					default:
						return false
					}
					return true
				})
			})
		default:
			return false
		}
		return true
	})
}

func (s *scanner) nodeSelectorTerm(t *corev1.NodeSelectorTerm) {
	s.fields("NodeSelectorTerm", "v1.NodeSelectorTerm", func(key []byte) bool {
		switch string(key) {
		case "matchExpressions":
			slice(s, &t.MatchExpressions, "[]v1.NodeSelectorRequirement", s.nodeSelectorRequirement)
		case "matchFields":
			slice(s, &t.MatchFields, "[]v1.NodeSelectorRequirement", s.nodeSelectorRequirement)
		default:
			return false
		}
		return true
	})
}

func (s *scanner) nodeSelectorRequirement(r *corev1.NodeSelectorRequirement) {
	s.fields("NodeSelectorRequirement", "v1.NodeSelectorRequirement", func(key []byte) bool {
		switch string(key) {
		case "key":
			str(s, &r.Key, "string")
		case "operator":
			str(s, &r.Operator, "v1.NodeSelectorOperator")
		case "values":
			slice(s, &r.Values, "[]string", func(v *string) { str(s, v, "string") })
		default:
			return false
		}
		return true
	})
}
