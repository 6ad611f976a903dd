/* Producer for the peer benchmarks (compiled by run.py with gcc).
 *   bprod spew NAME N [CPUFILE]        N numbered lines at full speed
 *   bprod rate NAME PER_SEC SECONDS [CPUFILE]   paced lines, flushed one by one
 *   bprod spewfor NAME SECONDS         numbered lines at full speed for SECONDS
 *   bprod tick NAME MS SECONDS         "NAME SEQ Q <CLOCK_MONOTONIC ns>" every MS ms
 *   bprod idle NAME                    print nothing, sleep until killed
 *   bprod hang MARKER                  ignore SIGTERM, sleep until killed
 * Lines are "NAME SEQ payload" (~70 bytes); SEQ counts from 1 per process.
 * With CPUFILE, writes "user_us sys_us nvcsw nivcsw maxrss_kb" of itself on exit
 * so the harness can subtract the producers from the supervisor tree's rusage.
 * With BPROD_BARRIER=DIR and BPROD_K=K in the environment, a producer that has
 * finished creates DIR/NAME and waits until K files exist before exiting, so
 * supervisors that stop everything when the first process ends (honcho,
 * foreman) do not cut the others short. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <fcntl.h>

static const char *PAY = "GET /api/items?page=1 200 in 3ms - lorem ipsum dolor sit";

static double mono(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void barrier(const char *name) {
    const char *dir = getenv("BPROD_BARRIER"), *k = getenv("BPROD_K");
    if (!dir || !k) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) close(fd);
    long want = atol(k);
    for (;;) {
        long n = 0;
        DIR *d = opendir(dir);
        if (!d) return;
        struct dirent *e;
        while ((e = readdir(d))) if (e->d_name[0] != '.') n++;
        closedir(d);
        if (n >= want) return;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
}

static void report(const char *path) {
    if (!path) return;
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "%ld %ld %ld %ld %ld\n",
            (long)(r.ru_utime.tv_sec * 1000000L + r.ru_utime.tv_usec),
            (long)(r.ru_stime.tv_sec * 1000000L + r.ru_stime.tv_usec),
            r.ru_nvcsw, r.ru_nivcsw, r.ru_maxrss);
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: see source\n"); return 2; }
    const char *mode = argv[1], *name = argv[2];
    static char buf[1 << 16];
    signal(SIGPIPE, SIG_DFL);
    if (!strcmp(mode, "spew") && argc >= 4) {
        setvbuf(stdout, buf, _IOFBF, sizeof buf);
        long n = atol(argv[3]);
        for (long i = 1; i <= n; i++) printf("%s %010ld %s\n", name, i, PAY);
        fflush(stdout);
        barrier(name);
        report(argc > 4 ? argv[4] : NULL);
    } else if (!strcmp(mode, "spewfor") && argc >= 4) {
        setvbuf(stdout, buf, _IOFBF, sizeof buf);
        double end = mono() + atof(argv[3]);
        for (long i = 1;; i++) {
            printf("%s %010ld %s\n", name, i, PAY);
            if ((i & 1023) == 0 && mono() > end) break;
        }
        fflush(stdout);
        barrier(name);
    } else if (!strcmp(mode, "rate") && argc >= 5) {
        double per = atof(argv[3]), secs = atof(argv[4]);
        double start = mono();
        long total = (long)(per * secs);
        for (long i = 1; i <= total; i++) {
            double due = start + (i - 1) / per;
            double now = mono();
            if (due > now) {
                struct timespec ts = {(time_t)(due - now), (long)((due - now - (time_t)(due - now)) * 1e9)};
                nanosleep(&ts, NULL);
            }
            printf("%s %010ld %s\n", name, i, PAY);
            fflush(stdout);
        }
        barrier(name);
        report(argc > 5 ? argv[5] : NULL);
    } else if (!strcmp(mode, "tick") && argc >= 5) {
        double ms = atof(argv[3]), secs = atof(argv[4]);
        double start = mono();
        long total = (long)(secs * 1000 / ms);
        for (long i = 1; i <= total; i++) {
            double due = start + i * ms / 1000;
            double now = mono();
            if (due > now) {
                struct timespec ts = {(time_t)(due - now), (long)((due - now - (time_t)(due - now)) * 1e9)};
                nanosleep(&ts, NULL);
            }
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            printf("%s %010ld Q %lld\n", name, i, (long long)t.tv_sec * 1000000000LL + t.tv_nsec);
            fflush(stdout);
        }
        barrier(name);
    } else if (!strcmp(mode, "idle")) {
        for (;;) pause();
    } else if (!strcmp(mode, "hang")) {
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        for (;;) pause();
    } else {
        fprintf(stderr, "bad mode\n");
        return 2;
    }
    return 0;
}
