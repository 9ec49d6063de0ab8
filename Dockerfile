# One image for every role; CG_ROLE chooses what a container runs (ingest, scoring, feed-generator).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
# Install scripts are not needed here: the image brings Node 24, and the native addon that
# postinstall builds belongs to the test network only. The dependency patches are applied.
RUN npm ci --ignore-scripts --no-audit --no-fund && npx patch-package
COPY . .
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    CG_ROLE=all \
    HTTP_PORT=3000 \
    DATA_DIR=/data
COPY --from=build /app/package.json /app/LICENSE ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/config ./config
# @NOTE A numeric user: the base image's `node` account (uid and gid 1000). Kubernetes can only
# check `runAsNonRoot` against a number; deploy/kubernetes runs the pods as the same uid and gid.
RUN mkdir -p /data && chown 1000:1000 /data
USER 1000:1000
# 3000: public (XRPC, console, /health, /ready); 9464: ops (/status, /metrics, detailed /ready), never public.
EXPOSE 3000 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD node -e "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
CMD ["node", "dist/services/app/src/main.js"]
