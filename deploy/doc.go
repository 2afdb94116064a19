// Package deploy holds no code. Its directories are the ways to run
// imgpurged (container/, kubernetes/, systemd/, and local/ for development);
// its tests read those files and check them against the Makefile, the
// configuration code and a service booted in-process, since no container
// engine or cluster runs where the tests do.
package deploy
