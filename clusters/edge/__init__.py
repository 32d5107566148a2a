"""The cluster's edge: one Traefik per cluster that the panel renders, deploys and checks live.

clusters.models.Edge   what the panel stores (image, network, ports, where its API answers)
render          pure: Edge -> the Traefik ServiceSpec (Swarm provider, entrypoints, API, ping)
status          live: Traefik's own API read back (version, routers with their servers)
deploy          apply the spec on the cluster and wait until Traefik answers with its routers
maintenance     pure: the maintenance page's service and its fallback routers
fallbacks       keep that service in step with the sites behind the edge
"""
