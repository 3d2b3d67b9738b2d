// Package e2e holds tests that run veltrix the way a team deploys it: the
// docker-compose file checked with docker-compose and the veltrix binary,
// and a real Prometheus scraping a running pipeline, evaluating every
// dashboard query and alert rule, and idle commands scraped for every series
// those queries and rules read; and the README's quickstart, run as written.
// It has no code of its own.
package e2e
