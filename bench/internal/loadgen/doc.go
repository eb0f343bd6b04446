// Package loadgen is the benchmarks' HTTP load: a minimal keep-alive
// client, closed-loop load at a fixed concurrency (Measure, for
// throughput and latency) and open-loop load at a fixed rate (Paced, which
// timestamps every response and says which version answered).
package loadgen
