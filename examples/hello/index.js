// The example `npm run dev` deploys: a Lambda-style Node.js handler.
let invocations = 0; // survives between warm invocations of one instance

exports.handler = async (event, context) => {
  invocations += 1;
  console.log(`hello invoked (${invocations} on this instance)`);
  return {
    message: `Hello, ${event && event.name ? event.name : 'world'}!`,
    requestId: context.awsRequestId,
    invocationsOnThisInstance: invocations,
  };
};
