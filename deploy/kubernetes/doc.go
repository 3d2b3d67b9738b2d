// Package kubernetes holds veltrix's Kubernetes manifests (kustomize: base/,
// components/, overlays/) and the Go code that keeps them honest: the
// generator of the files copied or derived from elsewhere in the repository
// (the configuration profiles, the alert rules, the dashboards) and the
// checks every rendered overlay must pass — each manifest decoded strictly
// into the Kubernetes API types, and the invariants that make a rollout lose
// nothing (grace period longer than the shutdown drain and final commit,
// probes on the endpoints veltrix serves, GOMEMLIMIT and the buffers within
// the memory limit, no more members than partitions).
//
//	go test ./deploy/kubernetes          # render, decode and check every overlay
//	go test ./deploy/kubernetes -update  # rewrite the generated files
package kubernetes
