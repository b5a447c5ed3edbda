/*
 * net.c - listening sockets (TCP on each bind address, optional unix
 * socket) and accepting connections.
 */
#include "server/server.h"
#include "engine/lode.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
    return 0;
}

static void fmt_addr(const struct sockaddr_storage *sa, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s->sin_addr, host, sizeof(host));
        port = ntohs(s->sin_port);
        snprintf(out, cap, "%s:%d", host, port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof(host));
        port = ntohs(s->sin6_port);
        snprintf(out, cap, "%s:%d", host, port);
    } else {
        snprintf(out, cap, "%s", srv.cfg.unixsocket ? srv.cfg.unixsocket : "");
    }
}

static bool is_loopback(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        return (ntohl(s->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&s->sin6_addr) ||
               (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr) && s->sin6_addr.s6_addr[12] == 127);
    }
    return true; /* unix socket */
}

static const char protected_msg[] =
    "-DENIED Lodestore is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from the "
    "loopback interface. If you want to connect from external computers to Lodestore you may "
    "adopt one of the following solutions: 1) Disable protected mode by sending the command "
    "'CONFIG SET protected-mode no' from the loopback interface by connecting to Lodestore from "
    "the same host the server is running, however MAKE SURE Lodestore is not publicly accessible "
    "from internet if you do so. 2) Set a password with 'CONFIG SET requirepass <password>'. "
    "3) Start the server with '--protected-mode no'.\r\n";

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    bool is_unix = w->data != NULL;
    for (int i = 0; i < 64; i++) { /* accept a burst, then yield */
        struct sockaddr_storage sa;
        socklen_t sl = sizeof(sa);
        int fd = accept(w->fd, (struct sockaddr *)&sa, &sl);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                srv_log(LL_WARNING, "Accepting client connection: %s", strerror(errno));
            return;
        }
        set_nonblock(fd);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (!is_unix) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            if (srv.cfg.tcp_keepalive > 0) {
                int idle = (int)srv.cfg.tcp_keepalive;
                int intvl = idle / 3 ? idle / 3 : 1, cnt = 3;
                setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
                setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
                setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
                setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
            }
        }
        srv.stat_numconnections++;
        if (srv.nclients >= srv.cfg.maxclients) {
            static const char msg[] = "-ERR max number of clients reached\r\n";
            if (write(fd, msg, sizeof(msg) - 1) < 0) { /* best effort, as Redis */
            }
            srv.stat_rejected_conn++;
            close(fd);
            continue;
        }
        if (!is_unix && srv.cfg.protected_mode && !srv.cfg.requirepass && !is_loopback(&sa)) {
            if (write(fd, protected_msg, sizeof(protected_msg) - 1) < 0) {
            }
            srv.stat_rejected_conn++;
            close(fd);
            continue;
        }
        struct client *c = client_new(fd, is_unix);
        if (is_unix) {
            snprintf(c->addr, sizeof(c->addr), "%s:0", srv.cfg.unixsocket);
            snprintf(c->laddr, sizeof(c->laddr), "%s:0", srv.cfg.unixsocket);
        } else {
            fmt_addr(&sa, c->addr, sizeof(c->addr));
            struct sockaddr_storage la;
            socklen_t ll = sizeof(la);
            if (getsockname(fd, (struct sockaddr *)&la, &ll) == 0)
                fmt_addr(&la, c->laddr, sizeof(c->laddr));
        }
        srv_log(LL_VERBOSE, "Accepted %s", c->addr);
    }
}

static int listen_tcp(const char *addr, int port)
{
    const char *host = addr;
    bool optional = false;
    if (host[0] == '-') { /* "-::1": skip if the address is unavailable */
        optional = true;
        host++;
    }
    if (strcmp(host, "*") == 0) host = "0.0.0.0";
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        srv_log(LL_WARNING, "Invalid bind address '%s': %s", addr, gai_strerror(rc));
        return optional ? -2 : -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) goto fail;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (res->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) goto fail;
    if (listen(fd, (int)srv.cfg.tcp_backlog) < 0) goto fail;
    set_nonblock(fd);
    freeaddrinfo(res);
    return fd;
fail:
    srv_log(LL_WARNING, "Warning: Could not create server TCP listening socket %s:%d: %s", host,
            port, strerror(errno));
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    return optional ? -2 : -1;
}

static int listen_unix(const char *path, long long perm)
{
    struct sockaddr_un sa = {0};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        srv_log(LL_WARNING, "unixsocket path too long: %s", path);
        return -1;
    }
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, (int)srv.cfg.tcp_backlog) < 0) {
        srv_log(LL_WARNING, "Failed opening Unix socket %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if (perm) chmod(path, (mode_t)perm);
    set_nonblock(fd);
    return fd;
}

int net_listen_all(void)
{
    srv.nlisten = 0;
    if (srv.cfg.port) {
        for (int i = 0; i < srv.cfg.nbind; i++) {
            int fd = listen_tcp(srv.cfg.bind[i], (int)srv.cfg.port);
            if (fd == -2) continue;
            if (fd < 0) return -1;
            srv.listen_fds[srv.nlisten] = fd;
            ev_io_init(&srv.listen_io[srv.nlisten], on_accept, fd, EV_READ);
            srv.listen_io[srv.nlisten].data = NULL;
            ev_io_start(srv.loop, &srv.listen_io[srv.nlisten]);
            srv.nlisten++;
        }
    }
    if (srv.cfg.unixsocket) {
        int fd = listen_unix(srv.cfg.unixsocket, srv.cfg.unixsocketperm);
        if (fd < 0) return -1;
        srv.listen_fds[srv.nlisten] = fd;
        ev_io_init(&srv.listen_io[srv.nlisten], on_accept, fd, EV_READ);
        srv.listen_io[srv.nlisten].data = (void *)1;
        ev_io_start(srv.loop, &srv.listen_io[srv.nlisten]);
        srv.nlisten++;
    }
    if (srv.nlisten == 0) {
        srv_log(LL_WARNING, "Configured to not listen anywhere, exiting.");
        return -1;
    }
    return 0;
}

void net_close_listeners(void)
{
    for (int i = 0; i < srv.nlisten; i++) {
        ev_io_stop(srv.loop, &srv.listen_io[i]);
        close(srv.listen_fds[i]);
    }
    if (srv.cfg.unixsocket) unlink(srv.cfg.unixsocket);
    srv.nlisten = 0;
}
