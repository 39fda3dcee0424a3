package evgit

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/bankgen"
)

// buildCLI builds the evgit command once per test binary.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "evgit")
	out, err := exec.Command("go", "build", "-o", bin, "./cmd/evgit").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

func evgitCmd(t *testing.T, bin, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "evgit %s: %s", strings.Join(args, " "), stderr.String())
	return string(out)
}

// An import killed with SIGKILL at a random moment leaves a repository
// that opens, logs and takes commits; run again, the import finishes with
// the same commits a clean import makes, none twice.
func TestImportKilledAndRerun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and runs imports")
	}
	bin := buildCLI(t)
	events := filepath.Join(t.TempDir(), "events.ndjson")
	var buf bytes.Buffer
	require.NoError(t, bankgen.Write(&buf, bankgen.Config{Seed: 7, Events: 8000, Accounts: 300}))
	require.NoError(t, os.WriteFile(events, buf.Bytes(), 0o644))
	model := filepath.Join(t.TempDir(), "bank.yaml")
	require.NoError(t, os.WriteFile(model, []byte(bankgen.Model), 0o644))

	clean := t.TempDir()
	evgitCmd(t, bin, clean, "init")
	evgitCmd(t, bin, clean, "model", "set", model)
	evgitCmd(t, bin, clean, "import", events)
	want := evgitCmd(t, bin, clean, "rev-parse", "HEAD")

	rng := rand.New(rand.NewPCG(1, 1))
	for trial := range 3 {
		dir := t.TempDir()
		evgitCmd(t, bin, dir, "init")
		evgitCmd(t, bin, dir, "model", "set", model)
		cmd := exec.Command(bin, "import", events)
		cmd.Dir = dir
		require.NoError(t, cmd.Start())
		time.Sleep(time.Duration(20+rng.IntN(250)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()

		// The repository opens and logs (possibly nothing yet).
		c := exec.Command(bin, "log", "--oneline", "-n", "1")
		c.Dir = dir
		out, err := c.CombinedOutput()
		if err != nil {
			require.Contains(t, string(out), "does not have any commits yet", "trial %d", trial)
		}
		evgitCmd(t, bin, dir, "import", events)
		require.Equal(t, want, evgitCmd(t, bin, dir, "rev-parse", "HEAD"), "trial %d", trial)
		n := strings.Count(evgitCmd(t, bin, dir, "log", "--oneline"), "\n")
		require.Equal(t, 8000, n, "trial %d: every commit once", trial)
		evgitCmd(t, bin, dir, "commit", "-m", "after", "acc-000001", "MoneyDeposited", `{"amount":1}`)
	}
}
