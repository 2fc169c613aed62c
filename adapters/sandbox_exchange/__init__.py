"""The Upbit-compatible sandbox exchange: real candles replayed as a live market, offline."""
