// Package cli is the imgpurge command line, for operators and for scripts
// and cron jobs: one purge or many from a file, dry runs that show the plan,
// the journal's status, listing and retry, each with an exit code a script
// can act on (see the Exit constants).
//
// Output goes to the writers of an Env, never straight to the process, so
// tests run the command line in-process against a real imgpurged.
package cli
