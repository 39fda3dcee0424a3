package model

import "testing"

// BenchmarkApplyDeposit folds one MoneyDeposited event of the SPEC §4 bank
// model into an account's state: the hot path of every commit.
func BenchmarkApplyDeposit(b *testing.B) {
	m := bankModel(b)
	state := []byte(`{"balance":1000,"frozen":false,"owner":"alice"}`)
	e := Event{Type: "MoneyDeposited", Schema: 1, Data: []byte(`{"amount":120}`),
		Meta: map[string]string{"actor": "teller-7", "time": "2026-11-24T15:00:00Z"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Apply("acc-1", state, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyWithdraw adds the two require checks to the deposit path.
func BenchmarkApplyWithdraw(b *testing.B) {
	m := bankModel(b)
	state := []byte(`{"balance":1000,"frozen":false,"owner":"alice"}`)
	e := Event{Type: "MoneyWithdrawn", Schema: 1, Data: []byte(`{"amount":120}`)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Apply("acc-1", state, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyMergePatch folds an event of a type no model names.
func BenchmarkApplyMergePatch(b *testing.B) {
	var m *Model
	state := []byte(`{"balance":1000,"frozen":false,"owner":"alice"}`)
	e := Event{Type: "Renamed", Schema: 1, Data: []byte(`{"owner":"bob"}`)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Apply("acc-1", state, e); err != nil {
			b.Fatal(err)
		}
	}
}
