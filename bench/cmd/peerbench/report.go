package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Rows of the table.
const (
	rowAppendEach  = "append-each"
	rowAppendBatch = "append-batch"
	rowImport      = "import"
	rowStreamHead  = "stream-head"
	rowStreamMid   = "stream-mid"
	rowStateMid    = "state-mid"
	rowHistory     = "history"
	rowSize        = "size"
	rowSizeBefore  = "size-before"
	rowCompact     = "compact"
)

// unit says how a row's figure is derived from a Measure.
type unit int

const (
	perSecond unit = iota // Events / Seconds, higher is better
	millis                // Seconds in ms, lower is better
	megabytes             // Bytes in MB, lower is better
	seconds               // Seconds, lower is better
)

func (u unit) String() string {
	return [...]string{"events/s", "ms", "MB", "s"}[u]
}

func (u unit) higherIsBetter() bool { return u == perSecond }

// Report is the outcome of a run; its JSON is what -json prints.
type Report struct {
	// Events is the number of events in the workload (-events).
	Events int `json:"events"`
	// Accounts is the number of account streams in the workload (-accounts).
	Accounts int `json:"accounts"`
	// Seed is the bankgen seed of the workload (-seed).
	Seed uint64 `json:"seed"`
	// Hot is the hottest stream: the one with the most events, the first by
	// name on a tie.
	Hot string `json:"hot_stream"`
	// HotEvents is the number of Hot's events in the whole workload.
	HotEvents int `json:"hot_stream_events"`
	// Single is the number of events evgit and SQLite append one durable
	// commit each (-single, at most Events).
	Single int `json:"single_event_appends"`
	// GitSample is the number of events git appends one commit each, to
	// extrapolate its rate from (-git-sample; 0: skipped).
	GitSample int `json:"git_sample"`
	// Batch is the number of events in each durable commit of the
	// append-batch row (-batch).
	Batch int `json:"batch"`
	// Reps is the number of runs of each read whose median is reported
	// (-reps).
	Reps int `json:"reps"`
	// Machine describes the machine the run happened on.
	Machine Machine `json:"machine"`
	// Seconds is the wall time of the whole run, in seconds.
	Seconds float64 `json:"seconds"`
	// Command is the command line that reruns the benchmark.
	Command string `json:"command"`
	// Systems are the display names of the systems run ("evgit", "SQLite",
	// "git"), in the order -systems gave them.
	Systems []string `json:"systems"`
	// Rows are the figures, one row each, in table order.
	Rows []*Row `json:"rows"`
	// Targets are evgit's goals against its peers, evaluated.
	Targets []Target `json:"targets"`
}

// Machine says where the run happened.
type Machine struct {
	// OS is the harness's GOOS/GOARCH, such as linux/amd64.
	OS string `json:"os"`
	// CPU is the CPU's model name from /proc/cpuinfo; empty where there is
	// none.
	CPU string `json:"cpu"`
	// CPUs is the number of logical CPUs (runtime.NumCPU).
	CPUs int `json:"cpus"`
	// Go is the Go version the harness was built with (runtime.Version).
	Go string `json:"go"`
	// Git is the version `git --version` prints; empty when it failed.
	Git string `json:"git"`
	// SQLite is the version of the SQLite library (modernc.org/sqlite)
	// the harness links.
	SQLite string `json:"sqlite"`
}

// Row is one figure for every system.
type Row struct {
	ID      string             `json:"id"`             // the row's name, such as "append-each"
	Title   string             `json:"title"`          // what the row measures, as the table shows it
	Unit    string             `json:"unit"`           // the figures' unit: "events/s", "ms", "MB" or "s"
	Info    bool               `json:"info,omitempty"` // shown, not compared
	Results map[string]*Result `json:"results"`        // each system's figure, by display name
	unit    unit
}

// Result is one system's figure in a row.
type Result struct {
	Measure
	// Value is the figure in the row's unit; 0 when Error is set.
	Value float64 `json:"value"`
	// Error is why the operation failed or its answer was wrong; empty
	// when it succeeded.
	Error string `json:"error,omitempty"`
}

// Target is one of evgit's goals against a peer.
type Target struct {
	Peer   string  `json:"peer"`     // the peer's display name: "SQLite" or "git"
	Row    string  `json:"row"`      // the ID of the row compared
	Need   float64 `json:"need"`     // evgit must be this many times better
	Factor float64 `json:"factor"`   // how many times better evgit is (below 1: worse)
	Pass   bool    `json:"pass"`     // Known, and Factor at least Need
	Text   string  `json:"text"`     // the goal in words
	Known  bool    `json:"measured"` // both figures were measured, without error and above 0
}

func newReport(o options, w *Workload) *Report {
	r := &Report{Events: o.events, Accounts: o.accounts, Seed: o.seed, Hot: w.Hot, HotEvents: w.HotEvents,
		Single: w.Single, GitSample: w.Sample, Batch: o.batch, Reps: o.reps}
	for _, s := range strings.Split(o.systems, ",") {
		r.Systems = append(r.Systems, map[string]string{"evgit": "evgit", "sqlite": "SQLite", "git": "git"}[strings.TrimSpace(s)])
	}
	add := func(id, title string, u unit, info bool) {
		r.Rows = append(r.Rows, &Row{ID: id, Title: title, Unit: u.String(), Info: info, Results: map[string]*Result{}, unit: u})
	}
	add(rowAppendEach, "append, 1 event per durable commit", perSecond, false)
	add(rowAppendBatch, fmt.Sprintf("append, durable batches of %d events", o.batch), perSecond, false)
	add(rowImport, "bulk import of the NDJSON file (evgit: a commit per event)", perSecond, false)
	add(rowStreamHead, "hottest stream's state at the head", millis, false)
	add(rowStreamMid, "hottest stream's state as of the middle", millis, false)
	add(rowStateMid, "whole state as of the middle", millis, false)
	add(rowHistory, "hottest stream's history", millis, false)
	add(rowSize, "size after compaction", megabytes, false)
	add(rowSizeBefore, "size before compaction", megabytes, true)
	add(rowCompact, "compaction time", seconds, true)
	return r
}

// readReport reads a report that -json printed.
func readReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, row := range r.Rows {
		for u := perSecond; u <= seconds; u++ {
			if u.String() == row.Unit {
				row.unit = u
			}
		}
	}
	return &r, nil
}

func (r *Report) row(id string) *Row {
	for _, row := range r.Rows {
		if row.ID == id {
			return row
		}
	}
	panic("no row " + id)
}

// set records a system's measure in a row.
func (r *Report) set(id, system string, m Measure, err error) {
	row := r.row(id)
	res := &Result{Measure: m}
	if err != nil {
		res.Error = err.Error()
	} else {
		switch row.unit {
		case perSecond:
			if m.Seconds > 0 {
				res.Value = float64(m.Events) / m.Seconds
			}
		case millis:
			res.Value = m.Seconds * 1e3
		case megabytes:
			res.Value = float64(m.Bytes) / 1e6
		case seconds:
			res.Value = m.Seconds
		}
	}
	row.Results[system] = res
}

// advantage is how many times better evgit is than peer in a row.
func (r *Report) advantage(id, peer string) (float64, bool) {
	row := r.row(id)
	e, p := row.Results["evgit"], row.Results[peer]
	if e == nil || p == nil || e.Error != "" || p.Error != "" || e.Value <= 0 || p.Value <= 0 {
		return 0, false
	}
	if row.unit.higherIsBetter() {
		return e.Value / p.Value, true
	}
	return p.Value / e.Value, true
}

// finish evaluates the targets.
func (r *Report) finish() {
	targets := []Target{
		{Peer: "SQLite", Row: rowAppendBatch, Need: 2, Text: "≥ 2× faster than SQLite at durable batched append"},
		{Peer: "SQLite", Row: rowImport, Need: 2, Text: "≥ 2× faster than SQLite at bulk import"},
		{Peer: "SQLite", Row: rowAppendEach, Need: 1, Text: "at least as fast as SQLite at one commit per event"},
		{Peer: "SQLite", Row: rowStreamHead, Need: 5, Text: "≥ 5× faster than SQLite at loading the hottest stream"},
		{Peer: "SQLite", Row: rowStateMid, Need: 3, Text: "≥ 3× faster than SQLite at the whole state as of the middle"},
		{Peer: "SQLite", Row: rowSize, Need: 2, Text: "at most half SQLite's size"},
		{Peer: "git", Row: rowImport, Need: 25, Text: "≥ 25× faster than git at import"},
		{Peer: "git", Row: rowHistory, Need: 25, Text: "≥ 25× faster than git at one stream's history"},
		{Peer: "git", Row: rowSize, Need: 10, Text: "≥ 10× smaller than git"},
	}
	for i := range targets {
		t := &targets[i]
		t.Factor, t.Known = r.advantage(t.Row, t.Peer)
		t.Pass = t.Known && t.Factor >= t.Need
	}
	r.Targets = targets
}

// cell formats a system's figure in a row.
func (r *Report) cell(id, system string) string {
	row := r.row(id)
	res := row.Results[system]
	switch {
	case res == nil:
		return "—"
	case res.Error != "":
		return "error"
	}
	s := formatValue(res.Value, row.unit)
	if row.unit == perSecond && strings.HasPrefix(res.Note, "extrapolated") {
		s += " †"
	}
	return s
}

func formatValue(v float64, u unit) string {
	switch u {
	case perSecond:
		return commas(int64(math.Round(v)))
	case megabytes:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		switch {
		case v < 10:
			return strconv.FormatFloat(v, 'f', 2, 64)
		case v < 100:
			return strconv.FormatFloat(v, 'f', 1, 64)
		}
		return commas(int64(math.Round(v)))
	}
}

func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + commas(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// ratio formats evgit's figure over the peer's, and what it means.
func (r *Report) ratio(id, peer string) string {
	row := r.row(id)
	adv, ok := r.advantage(id, peer)
	if !ok {
		return "—"
	}
	raw := row.Results["evgit"].Value / row.Results[peer].Value
	better, worse := "faster", "slower"
	if row.unit == megabytes {
		better, worse = "smaller", "larger"
	}
	word := better
	f := adv
	if adv < 1 {
		word, f = worse, 1/adv
	}
	return fmt.Sprintf("%s (%s× %s)", sig(raw), sig(f), word)
}

// sig prints a ratio with three significant digits.
func sig(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}

func formatBytes(b int64) string {
	return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MiB"
}

// writeMarkdown prints the report.
func (r *Report) writeMarkdown(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## %s: %s banking events\n\n", strings.Join(r.Systems, ", "), commas(int64(r.Events)))
	p("Workload: `bankgen` seed %d, %s events over %s accounts; hottest stream `%s` with %s events; the middle of history is after event %s.\n",
		r.Seed, commas(int64(r.Events)), commas(int64(r.Accounts)), r.Hot, commas(int64(r.HotEvents)), commas(int64(r.Events/2)))
	p("Command: `%s`.\n", r.Command)
	m := r.Machine
	p("Machine: %s, %d CPUs (%s); %s; git %s; SQLite %s (modernc.org/sqlite). Whole run: %s.\n\n",
		m.OS, m.CPUs, m.CPU, m.Go, m.Git, m.SQLite, time.Duration(r.Seconds*float64(time.Second)).Round(time.Second))

	var peers []string
	for _, s := range r.Systems {
		if s != "evgit" {
			peers = append(peers, s)
		}
	}
	p("| figure | unit |")
	for _, s := range r.Systems {
		p(" %s |", s)
	}
	for _, peer := range peers {
		p(" evgit/%s |", peer)
	}
	p("\n| --- | --- |")
	for range r.Systems {
		p(" ---: |")
	}
	for range peers {
		p(" ---: |")
	}
	p("\n")
	for _, row := range r.Rows {
		p("| %s | %s |", row.Title, row.Unit)
		for _, s := range r.Systems {
			p(" %s |", r.cell(row.ID, s))
		}
		for _, peer := range peers {
			if row.Info {
				p(" |")
				continue
			}
			p(" %s |", r.ratio(row.ID, peer))
		}
		p("\n")
	}
	p("\nRates are events per second from one run each (higher is better); read times are the median of %d runs in milliseconds, sizes in MB of 10^6 bytes (lower is better). "+
		"A ratio is evgit's figure over the peer's; one run of each varies by 10%% or more on this machine, so a ratio near 1 is a tie. "+
		"The systems take turns going first, operation by operation. † extrapolated from a sample.\n\n", r.Reps)

	p("### How each figure was measured\n\n")
	for _, row := range r.Rows {
		var parts []string
		for _, s := range r.Systems {
			res := row.Results[s]
			if res == nil {
				continue
			}
			note := res.Note
			if res.Error != "" {
				note = "error: " + res.Error
			}
			if note != "" {
				parts = append(parts, s+": "+note)
			}
		}
		if len(parts) > 0 {
			p("- %s — %s.\n", row.Title, strings.Join(parts, "; "))
		}
	}

	p("\n### Peak memory (maximum resident set)\n\n| operation |")
	for _, s := range r.Systems {
		p(" %s |", s)
	}
	p("\n| --- |")
	for range r.Systems {
		p(" ---: |")
	}
	p("\n")
	for _, id := range []string{rowImport, rowCompact, rowStreamHead, rowStreamMid, rowStateMid, rowHistory, rowAppendBatch, rowAppendEach} {
		row := r.row(id)
		title := row.Title
		if id == rowCompact {
			title = "compaction"
		}
		p("| %s |", title)
		for _, s := range r.Systems {
			res := row.Results[s]
			if res == nil || res.Error != "" || res.MaxRSS == 0 {
				p(" — |")
				continue
			}
			p(" %s |", formatBytes(res.MaxRSS))
		}
		p("\n")
	}
	p("\nThe peak resident set is the \"Maximum resident set size\" that `/usr/bin/time -v` reports for the process that did the work: " +
		"the evgit CLI for import and gc; git's own processes (the largest where an operation runs several; for reads, one more run after the timed ones); " +
		"for SQLite and for evgit's library calls, a child process of the harness that does only that operation " +
		"(so it includes the Go runtime, and for appends the workload generator).\n\n")

	p("### Targets\n\n")
	for _, t := range r.Targets {
		switch {
		case !t.Known:
			p("- ? %s: not measured\n", t.Text)
		case t.Pass:
			p("- PASS %s: %s×\n", t.Text, sig(t.Factor))
		default:
			p("- MISS %s: %s× (short by a factor of %s)\n", t.Text, sig(t.Factor), sig(t.Need/t.Factor))
		}
	}
}
