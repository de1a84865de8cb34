package v1alpha1

// DefaultReleaseNamespace is the namespace seccomp-guard runs in unless told
// otherwise (the chart's release namespace): the agents' heartbeat Leases
// live there, and the webhook, the agent and `seccomp-guard inventory` look
// for them there by default.
const DefaultReleaseNamespace = "seccomp-guard"
