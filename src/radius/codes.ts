/** RADIUS packet codes (RFC 2865 §3, RFC 2866 §3, RFC 5997, RFC 7930 §4). */
export const Code = {
  AccessRequest: 1,
  AccessAccept: 2,
  AccessReject: 3,
  AccountingRequest: 4,
  AccountingResponse: 5,
  AccessChallenge: 11,
  StatusServer: 12,
  StatusClient: 13,
  ProtocolError: 52,
} as const;

/** Attribute types used by the wire layer (RFC 2865 §5, RFC 3162, RFC 3579). */
export const Attr = {
  UserName: 1,
  UserPassword: 2,
  ChapPassword: 3,
  NasIpAddress: 4,
  NasPort: 5,
  ServiceType: 6,
  ReplyMessage: 18,
  State: 24,
  Class: 25,
  VendorSpecific: 26,
  SessionTimeout: 27,
  CallingStationId: 31,
  NasIdentifier: 32,
  ProxyState: 33,
  ChapChallenge: 60,
  EapMessage: 79,
  MessageAuthenticator: 80,
  NasIpv6Address: 95,
} as const;

/** Vendor-Id of Microsoft in Vendor-Specific attributes (RFC 2548 §2). */
export const VendorMicrosoft = 311;

/** RFC 2548 vendor types that carry MS-CHAP v1/v2 credentials or challenges. */
export const MsChapAttr = {
  MsChapResponse: 1,
  MsChapCpw1: 3,
  MsChapCpw2: 4,
  MsChapLmEncPw: 5,
  MsChapNtEncPw: 6,
  MsChapChallenge: 11,
  MsChap2Response: 25,
  MsChap2Cpw: 27,
} as const;

/** Packet limits (RFC 2865 §3; a Length above 4096 is discarded, RELIABILITY R2). */
export const HEADER_LENGTH = 20;
export const MAX_PACKET_LENGTH = 4096;
export const MAX_ATTRIBUTE_VALUE = 253;
