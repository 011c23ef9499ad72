"""Platform adapters: parse input into commands, render neutral messages."""
