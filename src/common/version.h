/* version: the release, shared by the server (VERSION, 002, 004) and the client (CTCP
 * VERSION). */
#ifndef TCPCHAT_VERSION_H
#define TCPCHAT_VERSION_H

#define TCPCHAT_VERSION "tcpchat-0.1.0"

#endif
