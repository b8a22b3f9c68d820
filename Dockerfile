# syntax=docker/dockerfile:1
# Sentinel image: multi-stage, Node 24 slim, runs as the non-root `node` user (uid 1000). The same image
# runs every Node service of docker-compose.yml: the three Sentinel instances, the echo upstream and
# the echo and denylist agents (those three set their own command; the CMD below runs Sentinel).
#
# NOTE: this image has never been built on the project's VM, and cannot be: `node:24-slim` cannot be
# pulled there (no container registry is reachable), and the private Docker daemon of .ci/run has no
# network for the `npm ci` step. What is checked there instead (spec/soak/compose.test.ts): the stages
# and the user statically; the config the CMD reads, as each Sentinel service mounts it; and the
# topology running from the same files and command lines as local processes. Build it where Docker
# Hub and the npm registry are reachable:
#   docker build -t sentinel-proxy:dev .
#   docker run --rm --network host sentinel-proxy:dev        # listens on 127.0.0.1:8081
# Alone it answers /health, and 503 to everything else: the catch-all route's denylist filter fails
# closed while its agent is not running. docker-compose.yml runs the whole topology.
#
# Sources are TypeScript with erasable syntax only: Node 24 runs them directly, there is no build step.
ARG NODE_IMAGE=node:24-slim

# --- deps: production dependencies only, from the lockfile.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- app: the repository (minus .dockerignore) on top of the dependencies.
FROM ${NODE_IMAGE} AS app
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .

# --- runtime
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=app /app /app
# Default config: the compose topology's shared config with instance 1's listener (127.0.0.1:8081).
# docker-compose.yml mounts both files per instance; the agents' socket directory is created owned by
# `node` so a fresh named volume mounted there inherits that ownership.
COPY deploy/compose/sentinel.kdl /etc/sentinel/sentinel.kdl
COPY deploy/compose/listeners/sentinel-1.kdl /etc/sentinel/listeners/instance.kdl
RUN mkdir -p /run/sentinel-agents && chown node:node /run/sentinel-agents
USER node
EXPOSE 8081
STOPSIGNAL SIGTERM
CMD ["node", "bin/sentinel.js", "run", "-c", "/etc/sentinel/sentinel.kdl"]
