package pack

import (
	"fmt"
	"testing"
)

// BenchmarkAppendFrame compresses a 1 MiB payload of JSON-like entries,
// the size of an import batch: in one part, and cut into parts
// compressed at once.
func BenchmarkAppendFrame(b *testing.B) {
	var payload []byte
	for i := 0; len(payload) < 1<<20; i++ {
		payload = fmt.Appendf(payload, `{"stream":"acc-%06d","type":"MoneyDeposited","data":{"amount":%d},"meta":{"time":"2026-01-01T00:00:%02dZ"}}`, i%9973, i*7%1000, i%60)
	}
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		AppendFrame(nil, payload, false)
	}
}
