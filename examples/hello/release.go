package main

// version is what the app reports; the demo edits this file between builds,
// as a developer would commit a change.
const version = "v1"

// healthy false makes /healthz fail: a broken build that must never get
// traffic.
const healthy = true
