package bankgen

// Model is the banking model of SPEC §4, verbatim: AccountOpened, MoneyDeposited,
// MoneyWithdrawn, AccountFrozen, AccountUnfrozen and FeeCharged with their apply,
// require and revert rules, snapshot_every, and the upcast of FeeCharged schema 1
// ("value") to schema 2 ("amount"). Every event the Generator produces is accepted
// by this model when applied in order.
const Model = `snapshot_every: 100          # events between snapshots (default 100)
types:
  AccountOpened:
    apply: { owner: event.owner, balance: 0, frozen: false }
  MoneyDeposited:
    apply: { balance: state.balance + event.amount }
    revert: { type: MoneyWithdrawn, data: { amount: event.amount } }
  MoneyWithdrawn:
    require: ["!state.frozen", "state.balance >= event.amount"]
    apply: { balance: state.balance - event.amount }
    revert: { type: MoneyDeposited, data: { amount: event.amount } }
  AccountFrozen:   { apply: { frozen: true },  revert: { type: AccountUnfrozen } }
  AccountUnfrozen: { apply: { frozen: false }, revert: { type: AccountFrozen } }
  FeeCharged:
    require: ["state.balance >= event.amount"]
    apply: { balance: state.balance - event.amount }
    revert: { type: MoneyDeposited, data: { amount: event.amount } }
upcast:                      # FeeCharged schema 1 named the field "value"; schema 2 "amount"
  - { type: FeeCharged, from: 1, to: 2, data: { amount: event.value } }
`
