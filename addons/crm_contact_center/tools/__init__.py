"""Stand-alone scripts shipped with the addon (stdlib only), e.g. the Asterisk AMI relay."""
