package evgit

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/bankgen"
)

// `evgit export | evgit import - -b copy` in one repository: the import's
// dry run holds the lock across processes while it reads its input to
// the end, and the export, done writing, waited for that lock in Close
// before it could exit and close the pipe. Found by a helper's audit.
func TestExportPipedIntoImportInOneRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	bin := buildCLI(t)
	dir := t.TempDir()
	evgitCmd(t, bin, dir, "init")
	evgitCmd(t, bin, dir, "commit", "-m", "one", "a", "T", `{}`)
	evgitCmd(t, bin, dir, "branch", "copy")
	events := filepath.Join(dir, "ev.ndjson")
	var buf bytes.Buffer
	require.NoError(t, bankgen.Write(&buf, bankgen.Config{Seed: 7, Events: 3000, Accounts: 30}))
	require.NoError(t, os.WriteFile(events, buf.Bytes(), 0o644))
	evgitCmd(t, bin, dir, "import", events)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", bin+" export | "+bin+" import - -b copy")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	require.NoError(t, ctx.Err(), "export | import into the same repository hangs: %s", out)
	require.NoError(t, err, "%s", out)
}
