"""Candles: the closed 1-minute candle, and gap filling into a stream of one per minute."""
