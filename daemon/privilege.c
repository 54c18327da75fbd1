/* privilege.c: see privilege.h. */
#include "daemon/privilege.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int privilege_check(const char *user, int allow_root, char *err, size_t errlen) {
    int has_user = user && user[0];
    if (geteuid() == 0 && !has_user && !allow_root) {
        snprintf(err, errlen, "refusing to run as root: give --user NAME (mamad binds its ports, "
                 "then runs as NAME; e.g. a dedicated `mamad` system user) or --allow-root");
        return -1;
    }
    if (has_user && geteuid() != 0) {
        struct passwd *pw = getpwnam(user);
        if (!pw || pw->pw_uid != geteuid()) {
            snprintf(err, errlen, "--user %s needs mamad to be started as root (it runs as uid %d)",
                     user, (int)geteuid());
            return -1;
        }
    }
    return 0;
}

int privilege_drop(const char *user, char *err, size_t errlen) {
    if (!user || !user[0]) return 0;
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(err, errlen, "--user %s: no such user%s%s", user, errno ? ": " : "",
                 errno ? strerror(errno) : "");
        return -1;
    }
    if (geteuid() == pw->pw_uid) return 0;
    if (pw->pw_uid == 0) {
        snprintf(err, errlen, "--user %s is root: use --allow-root to run as root", user);
        return -1;
    }
    /* groups first: once the uid is gone, they cannot be changed */
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        snprintf(err, errlen, "cannot become user %s (uid %d): %s", user, (int)pw->pw_uid,
                 strerror(errno));
        return -1;
    }
    if (setuid(0) == 0 || geteuid() == 0 || getegid() == 0) {
        snprintf(err, errlen, "dropping to user %s did not stick (root could be regained)", user);
        return -1;
    }
    return 0;
}
