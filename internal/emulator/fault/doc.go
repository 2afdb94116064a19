// Package fault holds the fault-injection machinery every CDN emulator
// shares: a queue of faults for single calls and standing ones for every
// call (queue.go), holding a call back until a test lets it go (hold.go),
// dropping a connection without an answer (drop.go), and adding a fault's
// headers to an answer (header.go).
//
// What a fault answers (a status, an error body, rate-limit headers) is each
// emulator's own, so each keeps its own Fault type and uses these pieces to
// decide when and how long that answer waits.
package fault
