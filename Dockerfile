# veltrix container image: a static Go binary on a small Alpine base (busybox
# wget serves the compose health checks).
#   docker build -t veltrix .
FROM golang:1.26-alpine AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY pkg ./pkg
COPY internal ./internal
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/veltrix ./cmd/veltrix

FROM alpine:3.22
RUN adduser -D -u 10001 veltrix
COPY --from=build /out/veltrix /usr/local/bin/veltrix
COPY configs /etc/veltrix
USER veltrix
EXPOSE 9464
ENTRYPOINT ["veltrix"]
CMD ["--help"]
