/** The graph transport: Microsoft Graph sendMail and upload sessions behind the MailSender shape. */
export { createGraphMailSender, UPLOAD_CHUNK_BYTES, type GraphMailSender, type GraphSenderOptions, type GraphSenderStats } from './graphSender';
export { classifyGraphError, graphErrorOf, graphReply, retryAfterSeconds, type GraphOperation } from './classifyGraphError';
export { graphRequest, type GraphAnswer, type GraphConnection, type GraphRequest } from './graphRequest';
export { GRAPH_REQUEST_LIMIT, MIME_LIMIT, UPLOAD_THRESHOLD, composeMime } from './mime';
