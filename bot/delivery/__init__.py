"""How anything leaves the process: the outbox dispatcher and the scheduler."""
