# Build: docker build -t viam-fleet-mcp .
# The image serves MCP over Streamable HTTP on port 8080 and so needs a bearer token:
#   docker run --rm -p 127.0.0.1:8080:8080 -e VIAM_MCP_HTTP_TOKEN -e VIAM_API_KEY_ID -e VIAM_API_KEY viam-fleet-mcp
# For stdio (a desktop client starts the container itself):
#   docker run --rm -i -e VIAM_API_KEY_ID -e VIAM_API_KEY viam-fleet-mcp serve
# Base images are pinned to version tags; the release workflow builds the image (add digests there once read).
FROM rust:1.95.0-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --profile dist --locked && cp target/dist/viam-fleet-mcp /viam-fleet-mcp

FROM debian:12.12-slim
# The system CA store, for corporate proxies; the binary also carries the webpki roots.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin mcp
COPY --from=build /viam-fleet-mcp /usr/local/bin/viam-fleet-mcp
LABEL io.modelcontextprotocol.server.name="io.github.OWNER/viam-fleet-mcp"
LABEL org.opencontainers.image.version="0.1.0"
LABEL org.opencontainers.image.licenses="Apache-2.0"
USER 10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/viam-fleet-mcp"]
CMD ["serve", "--http", "0.0.0.0:8080"]
