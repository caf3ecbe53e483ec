# spendcap in a container: docker build -t spendcap . && docker run -p 127.0.0.1:8787:8787 -v spendcap:/data spendcap
# The proxy listens on 0.0.0.0 inside the container (the port mapping above keeps it on the host's loopback).
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# No lifecycle scripts: `prepare` also installs the VS Code extension, which the image does not need.
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY web ./web
COPY test ./test
COPY bench ./bench
RUN npx tsc -p tsconfig.json && node web/build.mjs && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production SPENDCAP_HOME=/data
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/web ./dist/web
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 8787
# --host 0.0.0.0 so the port mapping reaches it; put a TLS proxy in front for anything beyond this machine.
CMD ["node", "bin/spendcap.js", "start", "--host", "0.0.0.0", "--port", "8787", "--no-open"]
