package walk

import (
	"slices"
	"strings"

	"github.com/evgit/evgit/object"
)

// GraphWriter draws the commit graph of log --graph in Git's plain ASCII
// style, one commit at a time, newest first (it cannot draw --reverse).
// Each lane is a column two characters wide holding the commit expected
// next on it; a commit is drawn as "*" in its lane, other lanes as "|",
// and lanes that fork, join or shift are drawn with "\" and "/" on lines
// of their own. A linear history is a column of "* ".
//
// Feed it the commits in output order through Next, and the commits the
// walk passed without showing (LogOptions.Skipped) through Skip, so that a
// filtered history still joins up. The zero value is ready to use.
type GraphWriter struct {
	lanes []lane
	pad   string // the prefix for the last commit's further lines
}

// lane is one column: the commit it waits for and the columns of the last
// drawn row it comes from (several when lanes joined, none for a new tip).
type lane struct {
	id   object.ID
	from []int
}

// Next places the commit id with the given parents (first parent first)
// and returns the graph-only lines to print before it (joins and forks
// since the previous commit, such as "|\" or "|/") and the prefix of its
// first line (such as "* " or "| * "). Prefixes of one graph are padded to
// a common width, so text after them lines up.
func (g *GraphWriter) Next(id object.ID, parents []object.ID) (before []string, prefix string) {
	before = g.transition()
	for i := range g.lanes {
		g.lanes[i].from = append(g.lanes[i].from[:0], i)
	}
	c := g.find(id)
	if c < 0 {
		c = len(g.lanes)
		g.lanes = append(g.lanes, lane{id: id, from: []int{c}})
	}
	row := len(g.lanes)
	g.replace(c, parents)
	width := max(row, len(g.lanes))

	line := []byte(strings.Repeat(" ", 2*width))
	pad := []byte(strings.Repeat(" ", 2*width))
	for i := range row {
		line[2*i], pad[2*i] = '|', '|'
	}
	line[2*c] = '*'
	if len(parents) == 0 {
		pad[2*c] = ' '
	}
	g.pad = string(pad)
	return before, string(line)
}

// Padding returns the prefix for the last commit's further lines (a full
// log format's author, date and message), to print before the next
// commit's lines.
func (g *GraphWriter) Padding() string { return g.pad }

// Skip passes a commit that is not shown: its lane, if it has one, now
// waits for its parents instead (nil parents end the lane). A commit
// without a lane is ignored.
func (g *GraphWriter) Skip(id object.ID, parents []object.ID) {
	if c := g.find(id); c >= 0 {
		g.replace(c, parents)
	}
}

func (g *GraphWriter) find(id object.ID) int {
	return slices.IndexFunc(g.lanes, func(l lane) bool { return l.id == id })
}

// replace puts lanes for parents where lane c was. A parent that already
// has a lane gets no new one: lane c joins it.
func (g *GraphWriter) replace(c int, parents []object.ID) {
	from := g.lanes[c].from
	var add []lane
	for _, p := range parents {
		if j := g.find(p); j >= 0 && j != c {
			for _, f := range from {
				if !slices.Contains(g.lanes[j].from, f) {
					g.lanes[j].from = append(g.lanes[j].from, f)
				}
			}
			continue
		}
		if slices.ContainsFunc(add, func(l lane) bool { return l.id == p }) {
			continue
		}
		add = append(add, lane{id: p, from: slices.Clone(from)})
	}
	g.lanes = slices.Replace(g.lanes, c, c+1, add...)
}

// transition draws how the lanes of the last row move to where they are
// now: each line moves a strand by one column, "\" to the right, "/" to
// the left, "|" where it stays; a strand going left past other lanes runs
// under them with "_" to the column next to its target first.
func (g *GraphWriter) transition() []string {
	type strand struct{ pos, target int }
	var strands []strand
	moving, width := false, 0
	for j, l := range g.lanes {
		for _, f := range l.from {
			strands = append(strands, strand{f, j})
			moving = moving || f != j
			width = max(width, f+1, j+1)
		}
	}
	if !moving {
		return nil
	}
	var lines []string
	buf := make([]byte, 2*width)
	for moving {
		moving = false
		for i := range buf {
			buf[i] = ' '
		}
		// put draws ch unless another strand drew there; "_" gives way.
		put := func(at int, ch byte) {
			if buf[at] == ' ' || buf[at] == '_' && ch != '_' {
				buf[at] = ch
			}
		}
		for i := range strands {
			s := &strands[i]
			switch {
			case s.pos < s.target:
				put(2*s.pos+1, '\\')
				s.pos++
			case s.pos > s.target+1:
				// A long way left runs under the lanes between, as
				// Git draws it: "| |_|/" then "|/| |".
				put(2*s.pos-1, '/')
				for at := 2*s.target + 3; at < 2*s.pos-1; at++ {
					put(at, '_')
				}
				s.pos = s.target + 1
			case s.pos > s.target:
				put(2*s.pos-1, '/')
				s.pos--
			default:
				put(2*s.pos, '|')
			}
			moving = moving || s.pos != s.target
		}
		lines = append(lines, strings.TrimRight(string(buf), " "))
	}
	return lines
}
