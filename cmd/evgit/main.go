// Command evgit is the command-line interface of evgit, a Git-style,
// content-addressed event store. Its contract is SPEC.md §3: flags, output
// shapes and exit codes. Every command only calls the evgit facade.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/object"
)

func main() {
	// A command is a short batch job. GOGC and GOMEMLIMIT still win.
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		// Collect harder past 2 GiB, so that no heap grows to four
		// times what it holds ...
		debug.SetMemoryLimit(2 << 30)
		// ... and let the commands that write in bulk trade memory for
		// less collection (gcPercent).
		tuneGC = func(command string) { debug.SetGCPercent(gcPercent(command)) }
	}
	// Ctrl-C cancels the command, which stops at its next check and
	// writes nothing it has not made durable; a second one ends the
	// process at once, as if the first had not been caught. A TERM ends
	// it at once, as before: a commit is durable or not there, and some
	// waits (gc's for the lock) do not watch the context.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	go func() {
		<-ctx.Done()
		stop()
	}()
	physicalPaths()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// globalOptions hold what every command shares: the global flags, the
// standard streams and the repository once opened.
type globalOptions struct {
	dir    string // -C: the folder commands start from, like git -C
	dirErr error  // the first -C that could not be changed to
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string

	started bool // the command's own code was reached: errors are no longer usage errors
	// written names what the command wrote before printing it ("commit
	// 3f2a9c1"), so that an output lost after it says it landed: a
	// script that saw only "error" would write it again.
	written string
	repo    *evgit.Repository
	torn    int64           // the torn bytes already reported
	warned  map[string]bool // the warnings printed (warnOnce)
}

// tuneGC, when set (by main, when the environment leaves the collector
// alone), sets the collector for the command about to run.
var tuneGC func(command string)

// gcPercent is the collector's setting for a command: 300 for those that
// write in bulk (import, commit, revert), for which 100 made an import of
// 100k events 5–10% slower; Go's 100 for the rest, which read a whole
// history (fsck, gc, export, model set) and under 300 held up to twice
// the memory: at a million events fsck 1.2–1.4 GB against 1.9–2.6, gc
// 1.9 against 3.3, export 0.5 against 0.9, for about a tenth more CPU
// (docs/performance.md, session 26).
func gcPercent(command string) int {
	switch command {
	case "import", "commit", "revert":
		return 300
	}
	return 100
}

// physicalPaths makes relative paths resolve against the folder the
// process really is in, as Git's do: Go's Getwd returns $PWD, the path
// as the shell walked it, through symbolic links, and `-C ..`, an
// EVGIT_DIR of ../.evgit or `init ..` from a linked folder then meant the
// link's parent, not the real one (a review). evgit starts no other
// program that could miss it.
func physicalPaths() {
	os.Unsetenv("PWD")
}

// joinPhysical resolves p against base (the current folder when empty)
// as a change of folder to base, then an open of p, would: the folders on
// p's way are resolved through links, so a ".." leaves the folder a link
// led to, not the link's folder; p's last name is kept as given, so a
// link named .evgit keeps that name and an error names what the user
// wrote (a review found both lost when the whole path was resolved); a
// trailing slash stays. Where the folders do not exist yet, p is joined
// as written.
func joinPhysical(base, p string) string {
	if filepath.IsAbs(p) || p == "" {
		return p
	}
	if base == "" {
		base = "."
	}
	slash := ""
	if os.IsPathSeparator(p[len(p)-1]) {
		slash = string(filepath.Separator)
	}
	dir, name := filepath.Split(strings.TrimRight(p, string(filepath.Separator)))
	if name == "." || name == ".." || name == "" {
		dir, name = p, ""
	}
	real, err := filepath.EvalSymlinks(base + string(filepath.Separator) + dir)
	if err != nil {
		return filepath.Join(base, p) + slash
	}
	if name == "" {
		return real + slash
	}
	return filepath.Join(real, name) + slash
}

// run executes one evgit invocation and returns its exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runWith(ctx, args, stdin, stdout, stderr, os.Getenv)
}

// logCountArgs turns git log's -<n> (log -3) into -n <n>, which the flag
// parser cannot take as a flag of its own. The value of a flag that takes
// one (-n -1: no limit; --stream -3: the stream "-3"; -C DIR, --directory
// DIR before the command) is left as it is, and so is anything after --
// (a helper's audit: --stream -3 became --max-count=3, and --directory r
// log -1 an unknown flag).
func logCountArgs(root *cobra.Command, args []string) []string {
	global := root.PersistentFlags()
	at := -1
	for i := 0; i < len(args); i++ {
		if takesValue(global, args[i]) {
			i++ // its value
			continue
		}
		if !strings.HasPrefix(args[i], "-") {
			if args[i] == "log" {
				at = i
			}
			break
		}
	}
	if at < 0 {
		return args
	}
	log, _, err := root.Find([]string{"log"})
	if err != nil {
		return args
	}
	out := slices.Clone(args)
	for i := at + 1; i < len(out) && out[i] != "--"; i++ {
		a := out[i]
		if takesValue(log.Flags(), a) || takesValue(global, a) {
			i++
			continue
		}
		if len(a) > 1 && a[0] == '-' && strings.Trim(a[1:], "0123456789") == "" {
			out[i] = "--max-count=" + a[1:]
		}
	}
	return out
}

// takesValue reports whether arg is a flag of fs that takes the next
// argument as its value: --name or -x, with no value attached.
func takesValue(fs *pflag.FlagSet, arg string) bool {
	var f *pflag.Flag
	switch {
	case strings.HasPrefix(arg, "--") && !strings.Contains(arg, "="):
		f = fs.Lookup(arg[2:])
	case len(arg) == 2 && arg[0] == '-' && arg[1] != '-':
		f = fs.ShorthandLookup(arg[1:])
	}
	return f != nil && f.NoOptDefVal == ""
}

// runWith is run with the environment read through getenv.
func runWith(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	out := &checkedWriter{w: stdout}
	stdout = out
	g := &globalOptions{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := newRootCommand(g)
	root.SetArgs(logCountArgs(root, args))
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if g.repo != nil {
		// Opened while another process held the lock, the repository
		// cuts a torn tail at its first write instead: said as Open's is.
		g.reportTorn()
		if cerr := g.repo.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}
	if err != nil && !g.started && !errors.Is(err, evgit.ErrInvalid) {
		// Cobra failed before the command ran: an unknown command or
		// flag, or a wrong number of arguments (a bad flag value is an
		// invalid value, exit 1: flagError). Cobra's message does not
		// say which command it is about: the command and its usage line
		// are added.
		if msg := err.Error(); cmd != nil && cmd != root && !strings.HasPrefix(msg, cmd.Name()+" ") && !strings.HasPrefix(msg, "unknown command ") {
			name := strings.TrimPrefix(cmd.CommandPath(), root.Name()+" ") // "model set"
			err = fmt.Errorf("%s: %w (usage: %s)", name, err, strings.TrimSuffix(cmd.UseLine(), " [flags]"))
		}
		err = asUsage(err)
	}
	switch {
	case err == nil && out.err != nil:
		// What the command did is done, but its output is lost.
		err = fmt.Errorf("writing the output: %w", out.err)
	case err != nil && out.err != nil && errors.Is(err, out.err) && !strings.HasPrefix(err.Error(), "writing the output: "):
		// A command that stopped on the write says so alike.
		err = fmt.Errorf("writing the output: %w", err)
	}
	if err != nil && out.err != nil && g.written != "" {
		err = fmt.Errorf("%w (%s was written)", err, g.written)
	}
	return report(stderr, err)
}

// flagError sorts the errors of parsing flags: a value a flag cannot
// take is an invalid value (exit 1, SPEC §3), anything else (an unknown
// flag, a flag without its value) is usage (exit 2).
func flagError(_ *cobra.Command, err error) error {
	var bad *pflag.InvalidValueError
	if !errors.As(err, &bad) {
		return asUsage(err)
	}
	if errors.Is(err, errGivenTwice) {
		return invalidf("--%s given twice, with other values: it takes one", bad.GetFlag().Name)
	}
	why := "not a valid value"
	var num *strconv.NumError
	switch {
	case errors.As(err, &num) && errors.Is(num.Err, strconv.ErrRange):
		why = "out of range"
	case errors.As(err, &num) && num.Func == "ParseBool":
		why = "want true or false"
	case errors.As(err, &num) && negativeNumber(bad.GetValue()) && strings.HasPrefix(bad.GetFlag().Value.Type(), "uint"):
		why = "want a number, not a negative one"
	case errors.As(err, &num):
		why = "not a number"
	}
	return invalidf("--%s %s: %s", bad.GetFlag().Name, bad.GetValue(), why)
}

// negativeNumber reports whether v reads as a negative number: "-5",
// not "-" or "-x".
func negativeNumber(v string) bool {
	return len(v) > 1 && v[0] == '-' && v[1] >= '0' && v[1] <= '9'
}

// checkedWriter remembers the first error writing to w, so that a
// command whose output could not be written (a full disk, a closed
// pipe) does not exit 0.
type checkedWriter struct {
	w   io.Writer
	err error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// newRootCommand builds the whole command tree.
func newRootCommand(g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "evgit",
		Short: "A Git-style, content-addressed event store",
		Long: `evgit is a Git-style, content-addressed event store: commits of events,
branches and tags, state folded from the events by a model, and every past
state recoverable (checkout, show REV:STREAM, --as-of).

Environment:
  EVGIT_DIR    the repository folder to use (a .evgit folder, or a bare
               repository), instead of the one found from the current folder
  EVGIT_ACTOR  who commits, imports and reverts when --actor is not given
               (default: the login name)`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("a command is needed; evgit --help lists them")
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			g.started = true
			if tuneGC != nil {
				tuneGC(cmd.Name())
			}
			if err := emptyFlags(cmd); err != nil {
				return err
			}
			return g.dirErr
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetHelpCommand(newHelpCommand(root))
	root.PersistentFlags().VarP(&dirFlag{path: &g.dir, err: &g.dirErr}, "directory", "C", "run as if evgit was started in `DIR` (each relative -C from the one before, as in Git)")
	root.SetFlagErrorFunc(flagError)

	root.AddCommand(
		newInitCommand(g),
		newCommitCommand(g),
		newImportCommand(g),
		newExportCommand(g),
		newLogCommand(g),
		newShowCommand(g),
		newLsTreeCommand(g),
		newCheckoutCommand(g),
		newDiffCommand(g),
		newBranchCommand(g),
		newTagCommand(g),
		newRevParseCommand(g),
		newCatFileCommand(g),
		newModelCommand(g),
		newRevertCommand(g),
		newGCCommand(g),
		newFsckCommand(g),
		newDemoCommand(g),
	)
	return root
}

// newHelpCommand is "evgit help [COMMAND]...": cobra's prints the whole
// list, exit 0, for a command it does not know.
func newHelpCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND]...",
		Short: "Help about any command",
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				return usagef("no help topic %q; evgit help lists the commands", strings.Join(args, " "))
			}
			return target.Help()
		},
	}
}

// dirFlag is -C: as in Git, which changes to each folder in turn, each
// relative -C is taken from where the one before it really leads (a
// link's target, not the link's parent), each must be a folder (a missing
// one is not joined away by a later "..", as it was on paper: a helper's
// audit), and an empty one changes nothing. The first that fails is kept
// for the command to report.
type dirFlag struct {
	path *string
	err  *error
}

func (d *dirFlag) String() string { return *d.path }
func (d *dirFlag) Type() string   { return "string" }

func (d *dirFlag) Set(v string) error {
	if v == "" || *d.err != nil {
		return nil
	}
	p := joinPhysical(*d.path, v)
	st, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		*d.err = fatalf("cannot change to '%s': no such directory", v)
	case err != nil:
		*d.err = fatalf("cannot change to '%s': %v", v, errors.Unwrap(err))
	case !st.IsDir():
		*d.err = fatalf("cannot change to '%s': not a directory", v)
	default:
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		*d.path = p
	}
	return nil
}

// decimalInt is an int flag read in decimal only, as Git reads numbers:
// pflag's own reads Go's prefixes, so --batch 010 would be 8 and -n 0x10
// sixteen.
type decimalInt int

func (d *decimalInt) String() string { return strconv.Itoa(int(*d)) }
func (d *decimalInt) Type() string   { return "int" }

func (d *decimalInt) Set(v string) error {
	n, err := strconv.ParseInt(v, 10, strconv.IntSize)
	if err != nil {
		return err
	}
	*d = decimalInt(n)
	return nil
}

// onceString is a string flag that takes one value: a filter given
// twice with two values (--stream a --stream b) kept the last, silently;
// Git ORs a repeated --author, evgit's filters take one value (a helper's
// audit). That is an invalid value, exit 1: SPEC keeps exit 2 for an
// unknown flag or a wrong number of arguments.
type onceString struct {
	p   *string
	set bool
}

// errGivenTwice is what onceString says of a second value.
var errGivenTwice = errors.New("given twice")

func (o *onceString) String() string {
	if o.p == nil {
		return ""
	}
	return *o.p
}

func (o *onceString) Type() string { return "string" }

func (o *onceString) Set(v string) error {
	if o.set && v != *o.p {
		return errGivenTwice
	}
	o.set, *o.p = true, v
	return nil
}

// decimalUint64 is decimalInt for a uint64 flag.
type decimalUint64 uint64

func (d *decimalUint64) String() string { return strconv.FormatUint(uint64(*d), 10) }
func (d *decimalUint64) Type() string   { return "uint64" }

func (d *decimalUint64) Set(v string) error {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return err
	}
	*d = decimalUint64(n)
	return nil
}

// path resolves a path given on the command line against -C, as a
// change of folder would (joinPhysical).
func (g *globalOptions) path(p string) string {
	return joinPhysical(g.dir, p)
}

// openRepo finds and opens the repository: EVGIT_DIR names the .evgit
// folder itself, otherwise it is looked for from -C (or the current
// folder) upwards.
func (g *globalOptions) openRepo(ctx context.Context) (*evgit.Repository, error) {
	if g.repo != nil {
		return g.repo, nil
	}
	var (
		repo *evgit.Repository
		err  error
	)
	// A command ends soon: the frames a long walk leaves are let go.
	open := evgit.OpenOptions{DropScanned: true, Warn: g.warnOnce}
	if dir := g.getenv("EVGIT_DIR"); dir != "" {
		repo, err = evgit.OpenWith(ctx, g.path(dir), open)
	} else {
		start := g.dir
		if start == "" {
			start = "."
		}
		repo, err = evgit.DiscoverWith(ctx, start, open)
	}
	if err != nil {
		return nil, notRepository(err)
	}
	g.repo = repo
	g.reportTorn()
	return repo, nil
}

// warnOnce prints a warning of the library's (OpenOptions.Warn), each
// once a command, as Git says an ambiguous name once.
func (g *globalOptions) warnOnce(msg string) {
	if g.warned[msg] {
		return
	}
	if g.warned == nil {
		g.warned = map[string]bool{}
	}
	g.warned[msg] = true
	fmt.Fprintf(g.stderr, "warning: %s\n", msg)
}

// reportTorn warns, once, of the bytes of a torn write left by a crash
// that the repository cut since it last said so.
func (g *globalOptions) reportTorn() {
	if n := g.repo.TornBytes(); n > g.torn {
		fmt.Fprintf(g.stderr, "warning: cut %d bytes of a torn write left by a crash (kept in .evgit/%s)\n", n-g.torn, g.repo.TornKept())
		g.torn = n
	}
}

// gitDir returns the repository folder openRepo opens, without opening
// it.
func (g *globalOptions) gitDir() (string, error) {
	if dir := g.getenv("EVGIT_DIR"); dir != "" {
		return g.path(dir), nil
	}
	start := g.dir
	if start == "" {
		start = "."
	}
	return evgit.FindGitDir(start)
}

// actor names who runs the command: $EVGIT_ACTOR, else the login name,
// else "unknown".
func (g *globalOptions) actor() string {
	if a := g.getenv("EVGIT_ACTOR"); a != "" {
		return a
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// jsonEncoder writes one JSON document a line, without HTML escaping, so
// data prints as it was stored.
func jsonEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// emptyFlags refuses a string flag given an empty value (`-b ""`,
// `--prune=`), which a command would otherwise take for the flag left
// out: the default branch, no key, the default grace period. A message
// may be empty, and so may -C.
func emptyFlags(cmd *cobra.Command) error {
	var err error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if err != nil || f.Name == "message" || f.Name == "directory" {
			return // an empty -C changes nothing, as in Git
		}
		switch v := f.Value.(type) {
		case pflag.SliceValue: // given more than once: none may be empty
			if !slices.Contains(v.GetSlice(), "") {
				return
			}
		default:
			if f.Value.Type() != "string" || f.Value.String() != "" {
				return
			}
		}
		want := "a value"
		switch f.Name {
		case "date", "as-of", "since", "until":
			want = "a time"
		case "file":
			want = "a file name (- for standard input)"
		case "expect":
			want = "STREAM=VERSION"
		}
		err = invalidf("--%s: empty, want %s", f.Name, want)
	})
	return err
}

// short abbreviates a commit ID for output, to the repository's length
// (Repository.Abbrev: 7 digits, more in a large repository, as Git
// does), or 7 before one is open.
func (g *globalOptions) short(id object.ID) string {
	if g.repo == nil {
		return id.Short()
	}
	return id.String()[:g.repo.Abbrev()]
}
