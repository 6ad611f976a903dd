# Prints what `tsc --watch --pretty false` prints for a broken file.
echo "$(date +%T) - Starting compilation in watch mode..."
sleep 0.5
echo "src/App.tsx(12,7): error TS2322: Type 'number' is not assignable to type 'string'."
echo "src/api.ts(3,21): error TS2307: Cannot find module './client' or its corresponding type declarations."
echo "$(date +%T) - Found 2 errors. Watching for file changes."
sleep 2
echo "$(date +%T) - File change detected. Starting incremental compilation..."
echo "$(date +%T) - Found 0 errors. Watching for file changes."
