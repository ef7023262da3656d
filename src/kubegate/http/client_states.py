"""An upstream connection's states and timer kinds (http/client_conn.py says what each
state means), shared by its halves and the pool."""

IDLE, WAITING, BODY, DONE, SWITCHED, DETACHED, CLOSED = range(7)
T_WRITE, T_HEAD, T_BODY = range(3)  # what the one deadline is timing
