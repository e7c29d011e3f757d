"""The engine's tunables, from the environment (each fails loudly when malformed)."""

from controlplane import env

# A running component renews its lease every third of this; the sweeper treats a lease
# that has run out as a worker that died. Short enough to notice a crash within a minute,
# long enough that a busy database does not make a live worker look dead.
LEASE_SECONDS = env.get_int("ENGINE_LEASE_SECONDS", 60, minimum=2)

# A task sent again by the sweeper (its first message lost) is sent at most this many times
# in all: a redelivery loop ends here.
MAX_DISPATCHES = env.get_int("ENGINE_MAX_DISPATCHES", 3, minimum=1)

# A queued component not taken by any worker after this long is sent again.
REDISPATCH_AFTER_SECONDS = env.get_int("ENGINE_REDISPATCH_AFTER_SECONDS", 600, minimum=10)

# Live log lines per step attempt; the rest are kept only in the output tail.
MAX_LIVE_LINES = 1000

# A queued component received this many times without ever being claimed is skipped.
MAX_DELIVERIES = env.get_int("ENGINE_MAX_DELIVERIES", 5, minimum=1)
