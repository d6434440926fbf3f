# Builds the one tidyhooks binary; docker-compose.yml runs it as `api` and
# as `worker`.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /tidyhooks ./cmd/tidyhooks

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /tidyhooks /tidyhooks
EXPOSE 8080 9090
ENTRYPOINT ["/tidyhooks"]
