/* numerics: the IRC numeric replies tcpchatd sends (RFC 2812 section 5, Modern IRC). */
#ifndef TCPCHAT_NUMERICS_H
#define TCPCHAT_NUMERICS_H

#define RPL_WELCOME           1
#define RPL_YOURHOST          2
#define RPL_CREATED           3
#define RPL_MYINFO            4
#define RPL_ISUPPORT          5
#define RPL_NOTOPIC           331
#define RPL_TOPIC             332
#define RPL_NAMREPLY          353
#define RPL_ENDOFNAMES        366
#define RPL_MOTD              372
#define RPL_MOTDSTART         375
#define RPL_ENDOFMOTD         376
#define ERR_UNKNOWNERROR      400
#define ERR_NOSUCHNICK        401
#define ERR_NOSUCHCHANNEL     403
#define ERR_CANNOTSENDTOCHAN  404
#define ERR_TOOMANYCHANNELS   405
#define ERR_TOOMANYTARGETS    407
#define ERR_NOORIGIN          409
#define ERR_NORECIPIENT       411
#define ERR_NOTEXTTOSEND      412
#define ERR_INPUTTOOLONG      417
#define ERR_UNKNOWNCOMMAND    421
#define ERR_NOMOTD            422
#define ERR_NONICKNAMEGIVEN   431
#define ERR_ERRONEUSNICKNAME  432
#define ERR_NICKNAMEINUSE     433
#define ERR_NOTONCHANNEL      442
#define ERR_NOTREGISTERED     451
#define ERR_NEEDMOREPARAMS    461
#define ERR_ALREADYREGISTERED 462
#define ERR_PASSWDMISMATCH    464

#endif
