//go:build race

package analysis

// raceEnabled: the race detector slows the simulations about sevenfold,
// so they run fewer rollouts under it.
const raceEnabled = true
