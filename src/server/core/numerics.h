/* numerics: every numeric reply tcpchatd sends, with its number and its text, in one table
 * (RFC 2812 section 5 and Modern IRC name them; the texts are ours). A row is
 *     #define NAME  number, "format of what follows the target nick"
 * so that send_reply(c, NAME, args...) (send.h) expands to the number and a literal format,
 * which the compiler checks against the arguments. A numeric sent with different texts has a
 * row per text, its name suffixed. NUM(NAME) is the number alone (for code that passes an
 * error on as a value), TEXT(NAME) the format alone. */
#ifndef TCPCHAT_NUMERICS_H
#define TCPCHAT_NUMERICS_H

#define NUM_(number, text)  number
#define TEXT_(number, text) text
#define NUM(...)            NUM_(__VA_ARGS__)
#define TEXT(...)           TEXT_(__VA_ARGS__)

/* One row per line, however long: a table reads best that way. */
/* clang-format off */

/* Registration and the welcome burst. */
#define RPL_WELCOME  1, ":Welcome to the %s IRC network, %s"
#define RPL_YOURHOST 2, ":Your host is %s, running version %s"
#define RPL_CREATED  3, ":This server was created %s"
#define RPL_MYINFO   4, "%s %s Biow iklmnostv"
#define RPL_ISUPPORT 5, "%s :are supported by this server"

/* Replies. */
#define RPL_UMODEIS         221, "+%s%s%s%s"
#define RPL_LUSERCLIENT     251, ":There %s %d user%s and %d invisible on %d server%s"
#define RPL_LUSEROP         252, "%d :operator(s) online"
#define RPL_LUSERUNKNOWN    253, "%d :unknown connection(s)"
#define RPL_LUSERCHANNELS   254, "%d :channels formed"
#define RPL_LUSERME         255, ":I have %d client%s and %d server%s"
#define RPL_ADMINME         256, "%s :Administrative info"
#define RPL_ADMINLOC1       257, ":%s"
#define RPL_ADMINLOC2       258, ":%s network, %s"
#define RPL_ADMINEMAIL      259, ":%s"
#define RPL_LOCALUSERS      265, "%d %d :Current local users %d, max %d"
#define RPL_GLOBALUSERS     266, "%d %d :Current global users %d, max %d"
#define RPL_AWAY            301, "%s :%s"
#define RPL_USERHOST        302, ":%s"
#define RPL_ISON            303, ":%s"
#define RPL_UNAWAY          305, ":You are no longer marked as being away"
#define RPL_NOWAWAY         306, ":You have been marked as being away"
#define RPL_WHOISUSER       311, "%s %s %s * :%s"
#define RPL_WHOISSERVER     312, "%s %s :%s"
#define RPL_WHOISOPERATOR   313, "%s :is an IRC operator"
#define RPL_WHOWASUSER      314, "%s %s %s * :%s"
#define RPL_ENDOFWHO        315, "%s :End of WHO list"
#define RPL_ENDOFWHOIS      318, "%s :End of /WHOIS list"
#define RPL_WHOISCHANNELS   319, "%s :%s"
#define RPL_LISTSTART       321, "Channel :Users  Name"
#define RPL_LIST            322, "%s %u :%s"
#define RPL_LISTEND         323, ":End of /LIST"
#define RPL_CHANNELMODEIS   324, "%s %s"
#define RPL_CREATIONTIME    329, "%s %lld"
#define RPL_WHOISACCOUNT    330, "%s %s :is logged in as"
#define RPL_NOTOPIC         331, "%s :No topic is set"
#define RPL_TOPIC           332, "%s :%s"
#define RPL_TOPICWHOTIME    333, "%s %s %lld"
#define RPL_INVITING        341, "%s %s"
#define RPL_INVITELIST      346, "%s %s %s %lld"
#define RPL_ENDOFINVITELIST 347, "%s :End of channel invite list"
#define RPL_EXCEPTLIST      348, "%s %s %s %lld"
#define RPL_ENDOFEXCEPTLIST 349, "%s :End of channel exception list"
#define RPL_VERSION         351, "%s %s :multi-threaded IRC server"
#define RPL_WHOREPLY        352, "%s %s %s %s %s %s :0 %s"
#define RPL_NAMREPLY        353, "%c %s :%s"
#define RPL_WHOSPCRPL       354, "%s"
#define RPL_ENDOFNAMES      366, "%s :End of /NAMES list"
#define RPL_BANLIST         367, "%s %s %s %lld"
#define RPL_ENDOFBANLIST    368, "%s :End of channel ban list"
#define RPL_ENDOFWHOWAS     369, "%s :End of WHOWAS"
#define RPL_INFO            371, ":%s"
#define RPL_INFO_VERSION    371, ":Version %s, running since %s"
#define RPL_MOTD            372, ":- %s"
#define RPL_ENDOFINFO       374, ":End of INFO list"
#define RPL_MOTDSTART       375, ":- %s Message of the day - "
#define RPL_ENDOFMOTD       376, ":End of /MOTD command."
#define RPL_YOUREOPER       381, ":You are now an IRC operator"
#define RPL_REHASHING       382, "%s :Rehashing"
#define RPL_TIME            391, "%s :%s"

/* Errors. */
#define ERR_UNKNOWNERROR         400, "%s :%s"
#define ERR_UNKNOWNERROR_NUL     400, "%s :Line dropped: it contained a NUL byte"
#define ERR_NOSUCHNICK           401, "%s :No such nick/channel"
#define ERR_NOSUCHSERVER         402, "%s :No such server"
#define ERR_NOSUCHCHANNEL        403, "%s :No such channel"
#define ERR_CANNOTSENDTOCHAN     404, "%s :Cannot send to channel"
#define ERR_TOOMANYCHANNELS      405, "%s :You have joined too many channels"
#define ERR_WASNOSUCHNICK        406, "%s :There was no such nickname"
#define ERR_TOOMANYTARGETS       407, "%s :Too many recipients"
#define ERR_NOORIGIN             409, ":No origin specified"
#define ERR_INVALIDCAPCMD        410, "%s :Invalid CAP command"
#define ERR_NORECIPIENT          411, ":No recipient given (%s)"
#define ERR_NOTEXTTOSEND         412, ":No text to send"
#define ERR_INPUTTOOLONG         417, ":Input line was too long"
#define ERR_UNKNOWNCOMMAND       421, "%s :Unknown command"
#define ERR_UNKNOWNCOMMAND_OFF   421, "%s :Unknown command (history is off)"
#define ERR_NOMOTD               422, ":MOTD File is missing"
#define ERR_NONICKNAMEGIVEN      431, ":No nickname given"
#define ERR_ERRONEUSNICKNAME     432, "%s :Erroneous nickname"
#define ERR_NICKNAMEINUSE        433, "%s :Nickname is already in use"
#define ERR_NICKNAMEINUSE_OWNED  433, "%s :Nickname is registered to an account; log in with SASL to use it"
#define ERR_NICKNAMEINUSE_CHOOSE 433, "%s :Nickname is registered to an account; log in with SASL or choose another nick"
/* Internal only, never sent: a channel message the history store cannot take yet. */
#define ERR_UNAVAILRESOURCE      437, "%s :Nick/channel is temporarily unavailable"
#define ERR_NICKCHANGETOOFAST    438, "%s :Nick change too fast. Please wait %d seconds"
#define ERR_USERNOTINCHANNEL     441, "%s %s :They aren't on that channel"
#define ERR_NOTONCHANNEL         442, "%s :You're not on that channel"
#define ERR_USERONCHANNEL        443, "%s %s :is already on channel"
#define ERR_NOTREGISTERED        451, ":You have not registered"
#define ERR_NEEDMOREPARAMS       461, "%s :Not enough parameters"
#define ERR_ALREADYREGISTERED    462, ":You may not reregister"
#define ERR_PASSWDMISMATCH       464, ":Password incorrect"
#define ERR_KEYSET               467, "%s :Channel key already set"
#define ERR_CHANNELISFULL        471, "%s :Cannot join channel (+l)"
#define ERR_UNKNOWNMODE          472, "%c :is unknown mode char to me"
#define ERR_INVITEONLYCHAN       473, "%s :Cannot join channel (+i)"
#define ERR_BANNEDFROMCHAN       474, "%s :Cannot join channel (+b)"
#define ERR_BADCHANNELKEY        475, "%s :Cannot join channel (+k)"
#define ERR_BANLISTFULL          478, "%s %c :Channel list is full"
#define ERR_NOPRIVILEGES         481, ":Permission Denied- You're not an IRC operator"
#define ERR_CHANOPRIVSNEEDED     482, "%s :You're not channel operator"
#define ERR_NOOPERHOST           491, ":No O-lines for your host"
#define ERR_UMODEUNKNOWNFLAG     501, ":Unknown MODE flag"
#define ERR_USERSDONTMATCH       502, ":Cant change mode for other users"
#define ERR_INVALIDKEY           525, "%s :Key is not well-formed"
#define RPL_WHOISSECURE          671, "%s :is using a secure connection"
#define RPL_WHOISBOT             335, "%s :is a bot"
#define RPL_MONONLINE            730, ":%s"
#define RPL_MONOFFLINE           731, ":%s"
#define RPL_MONLIST              732, ":%s"
#define RPL_ENDOFMONLIST         733, ":End of MONITOR list"
#define ERR_MONLISTFULL          734, "%d %s :Monitor list is full."

/* A channel error passed on as a number (JOIN, PART, the lobby), said without details. */
#define TEXT_CANNOTJOIN "%s :Cannot join channel"

/* SASL (IRCv3 sasl 3.1). */
#define RPL_LOGGEDIN         900, "%s %s :You are now logged in as %s"
#define RPL_SASLSUCCESS      903, ":SASL authentication successful"
#define ERR_SASLFAIL         904, ":SASL authentication failed"
#define ERR_SASLFAIL_NOCAP   904, ":SASL authentication failed (request the sasl capability)"
#define ERR_SASLFAIL_BUSY    904, ":SASL authentication failed (one attempt at a time)"
#define ERR_SASLFAIL_NOCERT  904, ":SASL authentication failed (EXTERNAL needs a TLS client certificate)"
#define ERR_SASLFAIL_REQUIRE 904, ":This server requires logging in with SASL"
#define ERR_SASLTOOLONG      905, ":SASL message too long"
#define ERR_SASLABORTED      906, ":SASL authentication aborted"
#define ERR_SASLALREADY      907, ":You have already authenticated using SASL"
#define RPL_SASLMECHS        908, "PLAIN,EXTERNAL :are available SASL mechanisms"
/* clang-format on */

#endif
