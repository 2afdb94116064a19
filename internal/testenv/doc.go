// Package testenv starts and finds the real servers that imgpurge's tests run
// against (S3 gateways, caches, web servers) on 127.0.0.1, and decides what a
// test does when one is not installed: skip on a developer machine, fail
// under CI=true (see Missing).
package testenv
