package walk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
)

// minHexPrefix is the shortest abbreviated ID a revision may use.
const minHexPrefix = 4

// revision is a parsed revision: a name, an optional reflog selector and a
// chain of parent steps.
type revision struct {
	name    string // a ref name, short ref name or hex (abbreviated) ID
	reflog  int    // N of name@{N}; -1 when absent
	current bool   // a bare @{N}: the reflog of the branch HEAD is on
	before  int    // N of @{-N}: what HEAD was on before the N-th last checkout; 0 when absent
	steps   []step
}

// step is one parent step: '~' (N first parents back) or '^' (the N-th
// parent; 0 is the commit itself).
type step struct {
	op byte
	n  int
}

// String returns the canonical spelling of r: every step with its count.
func (r revision) String() string {
	var b strings.Builder
	if r.before > 0 {
		b.WriteString("@{-" + strconv.Itoa(r.before) + "}")
	} else if !r.current {
		b.WriteString(r.name)
	}
	if r.reflog >= 0 {
		b.WriteString("@{")
		b.WriteString(strconv.Itoa(r.reflog))
		b.WriteString("}")
	}
	for _, s := range r.steps {
		b.WriteByte(s.op)
		b.WriteString(strconv.Itoa(s.n))
	}
	return b.String()
}

// parseRevision splits rev into its name, reflog selector and steps. It
// checks syntax only; whether the name exists is Resolve's business. Ref
// names cannot hold '~', '^' or "@{", so the first of them ends the name.
func parseRevision(rev string) (revision, error) {
	r := revision{reflog: -1}
	if rev == "" {
		return r, errors.New("empty revision")
	}
	end := strings.IndexAny(rev, "~^")
	if end < 0 {
		end = len(rev)
	}
	base, rest := rev[:end], rev[end:]
	if i := strings.Index(base, "@{"); i >= 0 {
		if !strings.HasSuffix(base, "}") {
			return r, fmt.Errorf("bad reflog selector %q", base[i:])
		}
		sel := base[i+2 : len(base)-1]
		if i == 0 && strings.HasPrefix(sel, "-") {
			// @{-N}: the N-th branch or commit checked out before.
			n, ok := parseCount(sel[1:])
			switch {
			case !ok && allDigits(sel[1:]):
				return r, fmt.Errorf("bad selector %q: %s is out of range", base, sel[1:])
			case !ok || n == 0:
				return r, fmt.Errorf("bad selector %q: want @{-N}, N at least 1", base)
			}
			r.before, r.name = n, refs.HEAD
			return r, parseSteps(&r, rest)
		}
		n, ok := parseCount(sel)
		switch {
		case !ok && allDigits(sel):
			return r, fmt.Errorf("bad reflog selector %q: %s is out of range", base[i:], sel)
		case !ok:
			return r, fmt.Errorf("bad reflog selector %q: want @{N}", base[i:])
		}
		r.reflog = n
		base = base[:i]
		if base == "" {
			base, r.current = refs.HEAD, true
		}
	}
	if base == "@" {
		base = refs.HEAD
	}
	if base == "" {
		return r, errors.New("no name before " + strconv.Quote(rest[:1]))
	}
	r.name = base
	return r, parseSteps(&r, rest)
}

// parseSteps parses the parent steps after a revision's name.
func parseSteps(r *revision, rest string) error {
	for rest != "" {
		op := rest[0]
		if op != '~' && op != '^' {
			if strings.HasPrefix(rest, "...") {
				return errors.New("a symmetric range (A...B), which evgit does not have")
			}
			return fmt.Errorf("unexpected %q", rest)
		}
		rest = rest[1:]
		if op == '^' && strings.HasPrefix(rest, "{") {
			// Git's peel, X^{} or X^{commit}: a revision names a
			// commit already (tags name commits), so it is X^0.
			end := strings.IndexByte(rest, '}')
			if end < 0 || (rest[1:end] != "" && rest[1:end] != "commit") {
				return fmt.Errorf("unexpected %q: a revision names a commit, and ^{} and ^{commit} are the peels there are", "^"+rest)
			}
			rest = rest[end+1:]
			r.steps = append(r.steps, step{op: '^', n: 0})
			continue
		}
		k := 0
		for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
			k++
		}
		n := 1
		if k > 0 {
			var ok bool
			if n, ok = parseCount(rest[:k]); !ok {
				return fmt.Errorf("count %q out of range", rest[:k])
			}
		}
		rest = rest[k:]
		r.steps = append(r.steps, step{op: op, n: n})
	}
	return nil
}

// parseCount parses a non-negative decimal count of digits only.
func parseCount(s string) (int, bool) {
	if !allDigits(s) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// allDigits reports whether s is decimal digits only, at least one.
func allDigits(s string) bool { return s != "" && strings.TrimLeft(s, "0123456789") == "" }

// isHex reports whether s could be a full or abbreviated hex ID.
func isHex(s string) bool {
	if len(s) < minHexPrefix || len(s) > 2*object.IDSize {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// RefCandidates returns the full ref names a name may mean, in the order
// Git tries them: "HEAD" alone for HEAD; else the name itself when it
// starts with "refs/", then refs/<name>, refs/tags/<name>,
// refs/heads/<name>.
func RefCandidates(name string) []string {
	switch {
	case name == refs.HEAD:
		return []string{name}
	case strings.HasPrefix(name, "refs/"):
		// As in Git, a branch may be named "refs/heads/q" (it is then
		// refs/heads/refs/heads/q): the name itself first, then the rules.
		return []string{name, "refs/" + name, refs.TagsPrefix + name, refs.HeadsPrefix + name}
	}
	return []string{"refs/" + name, refs.TagsPrefix + name, refs.HeadsPrefix + name}
}

// reflogCandidates are the refs whose reflog name@{n} reads, in order:
// as RefCandidates, but branches before tags. Git keeps no reflog for a
// tag, so there a branch and a tag of one name give the branch's; evgit
// keeps one, and reads it only when no branch has the name.
func reflogCandidates(name string) []string {
	c := RefCandidates(name)
	if len(c) >= 2 {
		n := len(c)
		c[n-2], c[n-1] = c[n-1], c[n-2] // tags and heads are the last two
	}
	return c
}

// Resolve returns the commit a revision names (SPEC §3): a full or
// abbreviated hex ID (at least 4 digits), a branch, a tag, HEAD (or "@"),
// a full "refs/..." name, and any chain of suffixes after it: X~N (N first
// parents back, X~ = X~1), X^N (the N-th parent, X^ = X^1, X^0 = X) and
// X@{N} directly after the name (the N-th previous value in X's reflog,
// X@{0} its current value; a bare @{N} reads the reflog of the branch
// HEAD is on, as in Git, when src is a BranchSource, and HEAD's while HEAD
// is detached). A bare @{-N} is what HEAD was on before the N-th last
// checkout (PreviousCheckout), and may take steps after it.
//
// A name is looked up like Git: a full 64-digit ID of an existing commit
// first; then the exact ref ("HEAD", "refs/..."), refs/<n>, refs/tags/<n>,
// refs/heads/<n>; last an abbreviated ID. So a ref whose name is also an
// abbreviated ID wins, as in Git. An abbreviated ID of several commits
// fails with an error matching ErrAmbiguous that lists them; an unknown
// name or a step beyond the root fails with an error matching
// ErrUnknownRevision, bad syntax with one matching ErrBadRevision. Errors
// of src other than absence pass through.
func Resolve(ctx context.Context, src Source, rev string) (object.ID, error) {
	r, err := parseRevision(rev)
	if err != nil {
		return object.ZeroID, badRevision(rev, err.Error())
	}
	var id object.ID
	if r.before > 0 {
		var branch string
		if branch, id, err = PreviousCheckout(ctx, src, r.before); err == nil && branch != "" {
			id, err = resolveName(ctx, src, rev, branch)
		}
		if err != nil {
			return object.ZeroID, err
		}
	} else if r.reflog >= 0 {
		name := r.name
		if bs, ok := src.(BranchSource); ok && r.current {
			if branch, ok := bs.CurrentBranch(); ok {
				name = branch
			}
		}
		id, err = resolveReflog(ctx, src, rev, name, r.reflog)
	} else {
		id, err = resolveName(ctx, src, rev, r.name)
	}
	if err != nil {
		return object.ZeroID, err
	}
	for _, s := range r.steps {
		if s.op == '~' {
			for range s.n {
				if err := ctx.Err(); err != nil {
					return object.ZeroID, err
				}
				c, err := commit(ctx, src, id)
				if err != nil {
					return object.ZeroID, err
				}
				if len(c.Parents) == 0 {
					return object.ZeroID, unknownRevision(rev, fmt.Sprintf("%s is a root commit", id.Short()))
				}
				id = c.Parents[0]
			}
			continue
		}
		c, err := commit(ctx, src, id)
		if err != nil {
			return object.ZeroID, err
		}
		if s.n == 0 {
			continue
		}
		if s.n > len(c.Parents) {
			return object.ZeroID, unknownRevision(rev, fmt.Sprintf("%s has %d parents", id.Short(), len(c.Parents)))
		}
		id = c.Parents[s.n-1]
	}
	return id, nil
}

// warnAmbiguous tells a Warner when a ref after found among name's
// candidates exists too, or the name, hex of at least 4 digits, is also
// the abbreviated ID of a commit, as Git warns "refname 'x' is
// ambiguous." (the ref is taken, as Git takes it).
func warnAmbiguous(src Source, name, found string) {
	w, ok := src.(Warner)
	if !ok || name == refs.HEAD {
		return
	}
	say := func() { w.Warn(fmt.Sprintf("refname '%s' is ambiguous.", name)) }
	cands := RefCandidates(name)
	for _, full := range cands[slices.Index(cands, found)+1:] {
		if refs.CheckRefName(full) != nil {
			continue
		}
		if _, ok, err := src.Ref(full); err == nil && ok {
			say()
			return
		}
	}
	if len(name) >= 4 && len(name) < 2*object.IDSize && isHex(name) {
		if ids, err := src.Lookup(strings.ToLower(name)); err == nil && len(ids) > 0 {
			say()
		}
	}
}

// resolveName resolves a name without suffixes.
func resolveName(ctx context.Context, src Source, rev, name string) (object.ID, error) {
	hex := isHex(name)
	if hex && len(name) == 2*object.IDSize {
		// A full ID names its commit even when a ref has the same name,
		// as in Git.
		id, err := object.ParseID(strings.ToLower(name))
		if err != nil {
			return object.ZeroID, badRevision(rev, err.Error())
		}
		_, err = commit(ctx, src, id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return object.ZeroID, err
		}
	}
	named := false // some ref could have the name
	for _, full := range RefCandidates(name) {
		if refs.CheckRefName(full) != nil {
			continue
		}
		named = true
		id, ok, err := src.Ref(full)
		if err != nil {
			return object.ZeroID, err
		}
		if ok {
			warnAmbiguous(src, name, full)
			return id, nil
		}
	}
	if hex && len(name) < 2*object.IDSize {
		ids, err := src.Lookup(strings.ToLower(name))
		if err != nil {
			return object.ZeroID, err
		}
		slices.SortFunc(ids, func(a, b object.ID) int { return bytes.Compare(a[:], b[:]) })
		ids = slices.Compact(ids)
		switch len(ids) {
		case 0:
		case 1:
			return ids[0], nil
		default:
			return object.ZeroID, fmt.Errorf("%w %q: candidates %s", ErrAmbiguous, name, strings.Join(ShortIDs(ids), ", "))
		}
	}
	if !named && !hex {
		if strings.Contains(name, "...") {
			return object.ZeroID, badRevision(rev, "a symmetric range (A...B), which evgit does not have")
		}
		if from, to, ok := ParseRange(name); ok && from != "" && to != "" {
			return object.ZeroID, badRevision(rev, "a range, where one commit is wanted")
		}
		return object.ZeroID, badRevision(rev, "no ref can have that name")
	}
	if len(name) < minHexPrefix && strings.Trim(name, "0123456789abcdefABCDEF") == "" {
		return object.ZeroID, unknownRevision(rev, fmt.Sprintf("no ref has that name, and an abbreviated ID has at least %d hex digits", minHexPrefix))
	}
	return object.ZeroID, unknownRevision(rev, "")
}

// ShortIDs abbreviates sorted, distinct IDs to the shortest length of at
// least 7 digits that tells them apart.
func ShortIDs(ids []object.ID) []string {
	hexes := make([]string, len(ids))
	for i, id := range ids {
		hexes[i] = id.String()
	}
	n := 7
	for i := 1; i < len(hexes); i++ {
		for n < len(hexes[i]) && hexes[i][:n] == hexes[i-1][:n] {
			n++
		}
	}
	for i := range hexes {
		hexes[i] = hexes[i][:n]
	}
	return hexes
}

// resolveReflog resolves name@{n}: the n-th previous value of the first
// candidate ref that has a reflog.
func resolveReflog(ctx context.Context, src Source, rev, name string, n int) (object.ID, error) {
	for _, full := range reflogCandidates(name) {
		if refs.CheckRefName(full) != nil {
			continue
		}
		// A reflog is read only beside its ref: a ref deleted takes its
		// reflog with it, so one left alone is what damage leaves.
		cur, ok, err := src.Ref(full)
		if err != nil {
			return object.ZeroID, err
		} else if !ok {
			continue
		}
		if n == 0 {
			// X@{0} is X now, whatever its reflog says (gc expires old
			// entries of HEAD's; a writer that keeps none may have moved it).
			return cur, nil
		}
		log, err := src.Reflog(full)
		if errors.Is(err, ErrNotFound) || err == nil && len(log) == 0 {
			continue
		}
		if err != nil {
			return object.ZeroID, err
		}
		var id object.ID
		switch {
		case n < len(log):
			id = log[n].New
		case n == len(log):
			// The oldest entry's old value, when the reflog was cut.
			id = log[n-1].Old
		}
		if id.IsZero() {
			return object.ZeroID, unknownRevision(rev, fmt.Sprintf("the reflog of %s has %d entries", full, len(log)))
		}
		return id, nil
	}
	if n == 0 {
		// X@{0} is X even without a reflog.
		return resolveName(ctx, src, rev, name)
	}
	return object.ZeroID, unknownRevision(rev, "no reflog for "+name)
}

// checkoutMessage starts the reflog message of a checkout that moved
// HEAD, as in Git: "checkout: moving from FROM to TO".
const checkoutMessage = "checkout: moving from "

// PreviousSelector reports whether rev is exactly @{-N} and gives N.
func PreviousSelector(rev string) (int, bool) {
	r, err := parseRevision(rev)
	if err != nil || r.before == 0 || len(r.steps) > 0 {
		return 0, false
	}
	return r.before, true
}

// PreviousCheckout finds what HEAD was on before the n-th most recent
// checkout that moved it (n >= 1), from HEAD's reflog as Git does for
// @{-n} and `checkout -`: branch is the full name of the branch it was
// on, or, when HEAD was detached, branch is empty and id is the commit
// it was at. A branch since deleted, or fewer checkouts than n in the
// reflog, is an error matching ErrUnknownRevision.
func PreviousCheckout(ctx context.Context, src Source, n int) (branch string, id object.ID, err error) {
	rev := "@{-" + strconv.Itoa(n) + "}"
	log, err := src.Reflog(refs.HEAD)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", object.ZeroID, err
	}
	seen := 0
	for _, e := range log {
		rest, ok := strings.CutPrefix(e.Message, checkoutMessage)
		if !ok {
			continue
		}
		from, _, ok := strings.Cut(rest, " to ")
		if !ok {
			continue
		}
		if seen++; seen < n {
			continue
		}
		// A branch name holds no space, so " to " ends it. A detached
		// HEAD is named by its ID (in full; by 7 digits before session
		// 20), never taken for a branch of that name.
		if isHex(from) && strings.HasPrefix(e.Old.String(), strings.ToLower(from)) {
			return "", e.Old, nil
		}
		full := refs.HeadsPrefix + from
		if _, ok, err := src.Ref(full); err != nil {
			return "", object.ZeroID, err
		} else if !ok {
			// As in Git, @{-N} is that branch: gone, it names nothing.
			return "", object.ZeroID, unknownRevision(rev, "the branch "+from+" HEAD was on is gone")
		}
		return full, object.ZeroID, nil
	}
	return "", object.ZeroID, unknownRevision(rev, fmt.Sprintf("HEAD's reflog holds %d checkouts", seen))
}

// ParseRange splits a range "A..B" into from = A and to = B; an empty side
// means HEAD, as in Git. When s is not a range, from is empty, to is s and
// isRange is false. "A...B" (Git's symmetric difference) is not a range
// here, so resolving it reports the whole text as unknown.
func ParseRange(s string) (from, to string, isRange bool) {
	i := strings.Index(s, "..")
	if i < 0 || strings.Contains(s, "...") {
		return "", s, false
	}
	from, to = s[:i], s[i+2:]
	if from == "" {
		from = refs.HEAD
	}
	if to == "" {
		to = refs.HEAD
	}
	return from, to, true
}

// ParseRFC3339 parses an RFC 3339 time, with an optional fraction of a
// second, as Go's parser reads it: also a "," before the fraction, a
// one-digit hour and an offset's minutes past 59, which evgit took before
// ParseTime checked the shape, so an event's meta.time stored by an older
// build imports again. RFC 3339 allows a lower-case "t" and "z", which
// Go's layout does not: they are read as upper case.
func ParseRFC3339(s string) (time.Time, error) {
	if strings.ContainsAny(s, "tz") {
		s = strings.ToUpper(s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, err
	}
	// Go takes an offset of 24 hours; RFC 3339's hours go to 23.
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 {
		return time.Time{}, fmt.Errorf("time %q: offset out of range", s)
	}
	return t, nil
}

// rfc3339Shaped reports whether s has the shape of RFC 3339's date-time,
// YYYY-MM-DDTHH:MM:SS[.F…](Z|±HH:MM), of which Go's parser takes more (a
// "," before the fraction, a one-digit hour). Checked byte by byte: an
// import parses a time a commit, and a regular expression cost eight
// times the parse.
func rfc3339Shaped(s string) bool {
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	if len(s) < 20 {
		return false
	}
	for i := range 19 {
		switch c := s[i]; i {
		case 4, 7:
			if c != '-' {
				return false
			}
		case 10:
			if c != 'T' && c != 't' {
				return false
			}
		case 13, 16:
			if c != ':' {
				return false
			}
		default:
			if !digit(c) {
				return false
			}
		}
	}
	rest := s[19:]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && digit(rest[n]) {
			n++
		}
		if n == 1 {
			return false
		}
		rest = rest[n:]
	}
	if rest == "Z" || rest == "z" {
		return true
	}
	return len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
		digit(rest[1]) && digit(rest[2]) && digit(rest[4]) && digit(rest[5])
}

// ParseTime parses a time as SPEC §3 allows: RFC 3339 (with an optional
// fraction of a second), or a date YYYY-MM-DD meaning 00:00:00Z that day.
// The result is in UTC. Other text fails with an error matching
// ErrInvalidTime; so does a leap second (second 60), which Go's time
// cannot hold.
func ParseTime(s string) (time.Time, error) {
	if len(s) == len(time.DateOnly) {
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			return t, nil
		}
	}
	why := "want RFC 3339 (2006-01-02T15:04:05Z) or YYYY-MM-DD"
	if rfc3339Shaped(s) {
		t, err := ParseRFC3339(s)
		zone := s[len(s)-1] == 'Z' || s[len(s)-1] == 'z'
		switch {
		case !zone && s[len(s)-2] > '5':
			why = "an offset's minutes go to 59"
		case err == nil:
			return t.UTC(), nil
		case s[17:19] == "60":
			// Go may name the second before another field out of
			// range (the day): with it at 59, that field is named.
			_, err59 := ParseRFC3339(s[:17] + "59" + s[19:])
			if err59 == nil {
				why = "a leap second (second 60) is not taken"
				break
			}
			err = err59
			fallthrough
		default:
			// RFC 3339's shape with a field out of range: Go names it.
			var pe *time.ParseError
			if errors.As(err, &pe) && pe.Message != "" {
				why = strings.TrimPrefix(pe.Message, ": ")
			} else if !errors.As(err, &pe) {
				why = "offset out of range"
			}
		}
	}
	return time.Time{}, fmt.Errorf("%w %q: %s", ErrInvalidTime, s, why)
}

// RevisionName returns the name a revision starts from (a ref name, a
// short ref name or a hex ID; "HEAD" for "@" and a bare @{N}), without
// its reflog selector and parent steps: what the commit it names depends
// on. ok is false for a revision that does not parse.
func RevisionName(rev string) (name string, ok bool) {
	r, err := parseRevision(rev)
	if err != nil {
		return "", false
	}
	return r.name, true
}
