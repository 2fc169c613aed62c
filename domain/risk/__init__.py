"""Risk: the account's limits and trading state, and the pre-trade rules that apply them."""
