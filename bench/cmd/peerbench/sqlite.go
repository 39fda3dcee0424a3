package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver most Go programs embed

	"github.com/evgit/evgit/bankgen"
)

// sqliteSystem is an events table in SQLite, as a Go program would embed
// it: modernc.org/sqlite, WAL, synchronous=FULL (every commit durable),
// UNIQUE(stream, version) for optimistic concurrency, state folded in Go.
type sqliteSystem struct{ reps int }

func (sqliteSystem) Name() string { return "SQLite" }

const sqliteSchema = `CREATE TABLE IF NOT EXISTS events (
	seq     INTEGER PRIMARY KEY,
	stream  TEXT    NOT NULL,
	version INTEGER NOT NULL,
	type    TEXT    NOT NULL,
	schema  INTEGER NOT NULL,
	data    TEXT    NOT NULL,
	meta    TEXT    NOT NULL,
	UNIQUE (stream, version)
)`

const sqliteInsert = `INSERT INTO events (stream, version, type, schema, data, meta) VALUES (?, ?, ?, ?, ?, ?)`

func sqliteFile(dir string) string { return filepath.Join(dir, "events.db") }

func openSQLite(dir string, create bool) (*sql.DB, error) {
	if create {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	db, err := sql.Open("sqlite", "file:"+sqliteFile(dir)+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if create {
		if _, err := db.Exec(sqliteSchema); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// sqliteRow is an event as the table holds it.
type sqliteRow struct {
	stream  string
	version int
	typ     string
	schema  int
	data    string
	meta    string
}

// rower turns generated events into rows, numbering each stream's versions.
type rower struct {
	versions map[string]int
	buf      []byte
}

func (r *rower) row(e bankgen.Event) sqliteRow {
	if r.versions == nil {
		r.versions = map[string]int{}
	}
	r.versions[e.Stream]++
	r.buf = e.AppendData(r.buf[:0])
	data := string(r.buf)
	r.buf = append(r.buf[:0], `{"actor":`...)
	r.buf = appendQuoted(r.buf, e.Actor)
	r.buf = append(r.buf, `,"time":"`...)
	r.buf = e.Time.AppendFormat(r.buf, time.RFC3339)
	r.buf = append(r.buf, `"}`...)
	return sqliteRow{stream: e.Stream, version: r.versions[e.Stream], typ: e.Type, schema: e.Schema, data: data, meta: string(r.buf)}
}

func appendQuoted(dst []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

func insert(ctx context.Context, stmt *sql.Stmt, r sqliteRow) error {
	_, err := stmt.ExecContext(ctx, r.stream, r.version, r.typ, r.schema, r.data, r.meta)
	return err
}

func (s sqliteSystem) spec(op, dir string, w *Workload) childSpec {
	return childSpec{Op: op, Dir: dir, Seed: w.Cfg.Seed, Events: w.Cfg.Events, Accounts: w.Cfg.Accounts,
		Stream: w.Hot, Mid: w.Mid, MidTime: w.MidTime, Reps: s.reps, NDJSON: w.NDJSON}
}

func (s sqliteSystem) Import(ctx context.Context, dir string, w *Workload) (Measure, error) {
	m, err := runChild(ctx, s.spec("sqlite.import", dir, w))
	m.Note = fmt.Sprintf("the NDJSON file read and parsed, one transaction a %d events (as evgit's import syncs once a batch of 1,000 commits)", sqliteImportBatch)
	return m, err
}

// sqliteImportBatch is the events an SQLite import commits at once: as
// many as an evgit import's batch of one-event commits.
const sqliteImportBatch = 1000

func (s sqliteSystem) Compact(ctx context.Context, dir string) (Measure, int64, int64, error) {
	before, err := sqliteSize(dir)
	if err != nil {
		return Measure{}, 0, 0, err
	}
	m, err := runChild(ctx, childSpec{Op: "sqlite.compact", Dir: dir})
	if err != nil {
		return m, 0, 0, err
	}
	after, err := sqliteSize(dir)
	m.Note = "VACUUM, then wal_checkpoint(TRUNCATE)"
	return m, before, after, err
}

func sqliteSize(dir string) (int64, error) { return dirSize(dir) }

func (s sqliteSystem) StreamHead(ctx context.Context, dir string, w *Workload) (Measure, error) {
	m, err := runChild(ctx, s.spec("sqlite.stream", dir, w))
	m.Note = "SELECT … WHERE stream=? ORDER BY version, folded in Go"
	return m, err
}

func (s sqliteSystem) StreamMid(ctx context.Context, dir string, w *Workload) (Measure, error) {
	m, err := runChild(ctx, s.spec("sqlite.stream-mid", dir, w))
	m.Note = "… AND seq <= mid"
	return m, err
}

func (s sqliteSystem) StateMid(ctx context.Context, dir string, w *Workload) (Measure, error) {
	m, err := runChild(ctx, s.spec("sqlite.state-mid", dir, w))
	m.Note = "every row with seq <= mid folded in Go"
	return m, err
}

func (s sqliteSystem) History(ctx context.Context, dir string, w *Workload) (Measure, error) {
	m, err := runChild(ctx, s.spec("sqlite.history", dir, w))
	m.Note = "SELECT * … WHERE stream=? ORDER BY version"
	return m, err
}

func (s sqliteSystem) AppendBatches(ctx context.Context, dir string, w *Workload, size int) (Measure, error) {
	spec := s.spec("sqlite.append-batches", dir, w)
	spec.Size = size
	m, err := runChild(ctx, spec)
	m.Note = fmt.Sprintf("%d INSERTs a transaction", size)
	return m, err
}

func (s sqliteSystem) AppendEach(ctx context.Context, dir, _ string, w *Workload) (Measure, error) {
	spec := s.spec("sqlite.append-each", dir, w)
	spec.N = w.singleN()
	m, err := runChild(ctx, spec)
	m.Note = fmt.Sprintf("first %s events, one INSERT a transaction", commas(int64(spec.N)))
	return m, err
}

// Child operations.

func init() {
	childOps["sqlite.import"] = sqliteImport
	childOps["sqlite.append-batches"] = func(ctx context.Context, s childSpec) (Measure, error) {
		return sqliteAppend(ctx, s, s.Events, s.Size)
	}
	childOps["sqlite.append-each"] = func(ctx context.Context, s childSpec) (Measure, error) {
		return sqliteAppend(ctx, s, s.N, 1)
	}
	childOps["sqlite.compact"] = func(ctx context.Context, s childSpec) (Measure, error) {
		db, err := openSQLite(s.Dir, false)
		if err != nil {
			return Measure{}, err
		}
		defer db.Close()
		start := time.Now()
		if _, err := db.ExecContext(ctx, "VACUUM"); err != nil {
			return Measure{}, err
		}
		if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			return Measure{}, err
		}
		return Measure{Seconds: time.Since(start).Seconds()}, nil
	}
	childOps["sqlite.stream"] = func(ctx context.Context, s childSpec) (Measure, error) {
		return sqliteRead(s, func(db *sql.DB) (Answer, error) {
			return foldRows(db, `SELECT stream, type, schema, data FROM events WHERE stream = ? ORDER BY version`, s.Stream)
		})
	}
	childOps["sqlite.stream-mid"] = func(ctx context.Context, s childSpec) (Measure, error) {
		return sqliteRead(s, func(db *sql.DB) (Answer, error) {
			return foldRows(db, `SELECT stream, type, schema, data FROM events WHERE stream = ? AND seq <= ? ORDER BY version`, s.Stream, s.Mid)
		})
	}
	childOps["sqlite.state-mid"] = func(ctx context.Context, s childSpec) (Measure, error) {
		return sqliteRead(s, func(db *sql.DB) (Answer, error) {
			return foldRows(db, `SELECT stream, type, schema, data FROM events WHERE seq <= ? ORDER BY seq`, s.Mid)
		})
	}
	childOps["sqlite.history"] = func(ctx context.Context, s childSpec) (Measure, error) {
		return sqliteRead(s, func(db *sql.DB) (Answer, error) {
			rows, err := db.Query(`SELECT seq, stream, version, type, schema, data, meta FROM events WHERE stream = ? ORDER BY version`, s.Stream)
			if err != nil {
				return Answer{}, err
			}
			defer rows.Close()
			n := 0
			var r sqliteRow
			var seq int64
			for rows.Next() {
				if err := rows.Scan(&seq, &r.stream, &r.version, &r.typ, &r.schema, &r.data, &r.meta); err != nil {
					return Answer{}, err
				}
				n++
			}
			return Answer{Count: n}, rows.Err()
		})
	}
}

// sqliteAppend writes the first n events of the workload, size rows a
// transaction, to a new database.
func sqliteAppend(ctx context.Context, s childSpec, n, size int) (Measure, error) {
	g := bankgen.New(bankgen.Config{Seed: s.Seed, Events: n, Accounts: s.Accounts})
	var rw rower
	return sqliteInsertAll(ctx, s, size, func() (sqliteRow, bool, error) {
		e, ok := g.Next()
		if !ok {
			return sqliteRow{}, false, nil
		}
		return rw.row(e), true, nil
	})
}

// sqliteImport reads the NDJSON file the evgit import reads, parses each
// line and inserts its event, a transaction each sqliteImportBatch events.
func sqliteImport(ctx context.Context, s childSpec) (Measure, error) {
	f, err := os.Open(s.NDJSON)
	if err != nil {
		return Measure{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	versions := map[string]int{}
	return sqliteInsertAll(ctx, s, sqliteImportBatch, func() (sqliteRow, bool, error) {
		if !sc.Scan() {
			return sqliteRow{}, false, sc.Err()
		}
		var e struct {
			Stream string            `json:"stream"`
			Type   string            `json:"type"`
			Schema int               `json:"schema"`
			Data   json.RawMessage   `json:"data"`
			Meta   map[string]string `json:"meta"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return sqliteRow{}, false, err
		}
		meta, err := json.Marshal(e.Meta)
		if err != nil {
			return sqliteRow{}, false, err
		}
		versions[e.Stream]++
		return sqliteRow{stream: e.Stream, version: versions[e.Stream], typ: e.Type, schema: max(e.Schema, 1), data: string(e.Data), meta: string(meta)}, true, nil
	})
}

// sqliteInsertAll inserts the rows next gives, size a transaction, each
// durable at its commit; the clock runs until the database is closed (its
// WAL checkpointed), as evgit's appends time their Close.
func sqliteInsertAll(ctx context.Context, s childSpec, size int, next func() (sqliteRow, bool, error)) (Measure, error) {
	db, err := openSQLite(s.Dir, true)
	if err != nil {
		return Measure{}, err
	}
	closed := false
	defer func() {
		if !closed {
			db.Close()
		}
	}()
	stmt, err := db.PrepareContext(ctx, sqliteInsert)
	if err != nil {
		return Measure{}, err
	}
	start := time.Now()
	written := 0
	for done := false; !done; {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return Measure{}, err
		}
		txStmt := tx.StmtContext(ctx, stmt)
		n := 0
		for ; n < size; n++ {
			r, ok, err := next()
			if err != nil {
				tx.Rollback()
				return Measure{}, err
			}
			if !ok {
				done = true
				break
			}
			if err := insert(ctx, txStmt, r); err != nil {
				tx.Rollback()
				return Measure{}, err
			}
		}
		written += n
		if err := tx.Commit(); err != nil {
			return Measure{}, err
		}
	}
	stmt.Close()
	closed = true
	if err := db.Close(); err != nil {
		return Measure{}, err
	}
	return Measure{Seconds: time.Since(start).Seconds(), Events: written, Answer: Answer{Written: written}}, nil
}

func sqliteRead(s childSpec, read func(db *sql.DB) (Answer, error)) (Measure, error) {
	return repeat(s.Reps, func() (time.Duration, Answer, error) {
		db, err := openSQLite(s.Dir, false)
		if err != nil {
			return 0, Answer{}, err
		}
		defer db.Close()
		start := time.Now()
		a, err := read(db)
		return time.Since(start), a, err
	})
}

// eventData is the data of a banking event as stored.
type eventData struct {
	Owner  string `json:"owner"`
	Amount *int64 `json:"amount"`
	Value  *int64 `json:"value"` // FeeCharged schema 1
}

// foldRows folds the (stream, type, schema, data) rows a query returns with
// bankgen.Replayer, the reference fold of the banking model.
func foldRows(db *sql.DB, query string, args ...any) (Answer, error) {
	rows, err := db.Query(query, args...)
	if err != nil {
		return Answer{}, err
	}
	defer rows.Close()
	r := bankgen.NewReplayer()
	var data []byte
	var e bankgen.Event
	for rows.Next() {
		if err := rows.Scan(&e.Stream, &e.Type, &e.Schema, &data); err != nil {
			return Answer{}, err
		}
		var d eventData
		if err := json.Unmarshal(data, &d); err != nil {
			return Answer{}, err
		}
		e.Data = bankgen.Data{Owner: d.Owner}
		if d.Amount != nil {
			e.Data.Amount = *d.Amount
		} else if d.Value != nil {
			e.Data.Amount = *d.Value
		}
		if err := r.Apply(e); err != nil {
			return Answer{}, err
		}
	}
	if err := rows.Err(); err != nil {
		return Answer{}, err
	}
	return answerOf(r, args...), nil
}

// answerOf summarizes a fold: the one stream's account when the query
// named a stream, else the count and balance sum of all streams.
func answerOf(r *bankgen.Replayer, args ...any) Answer {
	if len(args) > 0 {
		if stream, ok := args[0].(string); ok {
			a, _ := r.Get(stream)
			return Answer{Account: &a}
		}
	}
	st := r.State()
	var sum int64
	for _, a := range st {
		sum += a.Balance
	}
	return Answer{Streams: len(st), Balances: sum}
}
